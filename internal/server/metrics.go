package server

import (
	"context"
	"time"

	"github.com/danang-soc/vigil/collectors/packet"
	"github.com/danang-soc/vigil/collectors/syslog"
	"github.com/prometheus/client_golang/prometheus"
)

// statsCollector turns the Stats of the parts into Prometheus metrics at
// scrape time, so that no part needs to know about Prometheus: the bus
// queue, the store, correlation state, incident grouping, the websocket hub
// and the syslog receiver.
type statsCollector struct {
	s *Server
}

var (
	descBusBatches   = prometheus.NewDesc("vigil_bus_depth_batches", "Batches waiting in the durable bus.", nil, nil)
	descBusBytes     = prometheus.NewDesc("vigil_bus_depth_bytes", "Bytes waiting in the durable bus.", nil, nil)
	descStoreRows    = prometheus.NewDesc("vigil_store_rows", "Rows held by the store, by kind.", []string{"kind"}, nil)
	descStoreBytes   = prometheus.NewDesc("vigil_store_bytes", "Size of the store's database.", nil, nil)
	descCorrKeys     = prometheus.NewDesc("vigil_correlation_keys", "Live group-by keys per correlation rule.", []string{"rule"}, nil)
	descCorrEvicted  = prometheus.NewDesc("vigil_correlation_evicted_total", "Keys evicted to respect the per-rule bound.", []string{"rule"}, nil)
	descCorrTrunc    = prometheus.NewDesc("vigil_correlation_truncated_total", "Events dropped from a key to respect the per-key bound.", []string{"rule"}, nil)
	descCorrLate     = prometheus.NewDesc("vigil_correlation_late_total", "Matches older than the lateness bound, not correlated.", nil, nil)
	descIncOpen      = prometheus.NewDesc("vigil_incidents_open_in_memory", "Open incidents the grouper holds.", nil, nil)
	descIncTotal     = prometheus.NewDesc("vigil_incident_changes_total", "What alerts did to incidents.", []string{"outcome"}, nil)
	descHubClients   = prometheus.NewDesc("vigil_stream_clients", "Websocket clients connected.", nil, nil)
	descHubSlow      = prometheus.NewDesc("vigil_stream_slow_disconnects_total", "Websocket clients dropped because their send buffer was full.", nil, nil)
	descHubPublished = prometheus.NewDesc("vigil_stream_published_total", "Messages published to websocket clients.", nil, nil)
	descSyslog       = prometheus.NewDesc("vigil_syslog_messages_total", "Syslog messages by what became of them.", []string{"outcome"}, nil)
	descPacket       = prometheus.NewDesc("vigil_packet_total", "Packet capture counters, by what they count (kernel_dropped: packets the kernel dropped because the capture buffer was full).", []string{"what"}, nil)
	descSyslogQueue  = prometheus.NewDesc("vigil_syslog_queue_depth", "Syslog events waiting for ingest.", nil, nil)
)

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBusBatches, descBusBytes, descStoreRows, descStoreBytes, descCorrKeys, descCorrEvicted,
		descCorrTrunc, descCorrLate, descIncOpen, descIncTotal, descHubClients, descHubSlow, descHubPublished, descSyslog, descSyslogQueue, descPacket} {
		ch <- d
	}
}

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	if msgs, bytes, err := s.bus.Depth(ctx); err == nil {
		gauge(descBusBatches, float64(msgs))
		gauge(descBusBytes, float64(bytes))
	}
	if st, err := s.store.Stats(ctx); err == nil {
		gauge(descStoreRows, float64(st.Events), "events")
		gauge(descStoreRows, float64(st.Alerts), "alerts")
		gauge(descStoreRows, float64(st.Incidents), "incidents")
		gauge(descStoreRows, float64(st.OpenIncidents), "open_incidents")
		gauge(descStoreRows, float64(st.Quarantined), "quarantined")
		gauge(descStoreBytes, float64(st.Bytes))
	}
	if eng := s.pipe.corr.Load(); eng != nil {
		st := eng.Stats()
		counter(descCorrLate, st.Late)
		for _, r := range st.Rules {
			gauge(descCorrKeys, float64(r.Keys), r.Rule)
			counter(descCorrEvicted, r.Evicted, r.Rule)
			counter(descCorrTrunc, r.Truncated, r.Rule)
		}
	}
	g := s.group.Stats()
	gauge(descIncOpen, float64(g.Open))
	counter(descIncTotal, g.Created, "created")
	counter(descIncTotal, g.Updated, "updated")
	counter(descIncTotal, g.Duplicates, "duplicate")
	counter(descIncTotal, g.Suppressed, "suppressed")
	counter(descIncTotal, g.Escalated, "escalated")
	h := s.console.Hub().Stats()
	gauge(descHubClients, float64(h.Clients))
	counter(descHubSlow, h.SlowDisconnects)
	counter(descHubPublished, h.Published)
	if pc, ok := s.capture.Load().(*packet.Capture); ok {
		st := pc.Stats()
		for what, v := range map[string]uint64{"packets": st.Packets, "bytes": st.Bytes, "malformed": st.Malformed, "flows": st.Flows,
			"flows_evicted": st.FlowsEvicted, "gaps": st.Gaps, "lost_bytes": st.LostBytes, "decode_errors": st.DecodeErrors,
			"events": st.Events, "events_dropped": st.EventsDropped, "kernel_received": st.KernelReceived,
			"kernel_dropped": st.KernelDropped, "iface_dropped": st.IfaceDropped} {
			counter(descPacket, v, what)
		}
	}
	if sl, ok := s.syslog.Load().(*syslog.Server); ok {
		st := sl.Stats()
		counter(descSyslog, st.Received, "received")
		counter(descSyslog, st.Written, "written")
		counter(descSyslog, st.Dropped, "dropped")
		counter(descSyslog, st.ParseErrors, "parse_error")
		counter(descSyslog, st.Truncated, "truncated")
		gauge(descSyslogQueue, float64(st.Queued))
	}
}
