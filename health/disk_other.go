//go:build !(linux || darwin || freebsd)

package health

import (
	"errors"
	"runtime"
)

func diskFree(string) (uint64, error) {
	return 0, errors.New("disk: free space not supported on " + runtime.GOOS)
}
