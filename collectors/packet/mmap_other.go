//go:build !linux

package packet

import (
	"errors"
	"os"
)

func mapFile(*os.File) ([]byte, func(), error) {
	return nil, nil, errors.New("memory mapping is not supported here")
}
