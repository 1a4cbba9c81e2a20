package file_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/danang-soc/vigil/collectors/file"
	"github.com/danang-soc/vigil/event"
)

// Tailing files with a decoder per file: here plain lines; the wiring passes
// syslog.NewDecoder or a database log decoder the same way. The sink would
// be the agent's uplink or the server's ingest.
func Example() {
	cp, err := file.NewCheckpointDir(os.TempDir() + "/vigil-example-checkpoints")
	if err != nil {
		panic(err)
	}
	sink := event.SinkFunc(func(ctx context.Context, batch []event.Event) error { return nil })
	newDecoder := func() file.Decoder { return file.Lines{Source: event.LogSource{Product: "linux"}} }
	t, err := file.New(file.Config{Paths: []string{os.TempDir() + "/vigil-example-*.log"}},
		newDecoder, sink, cp, slog.Default(), time.Now)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_ = t.Run(ctx)
}
