//go:build !linux

package redistest

import "syscall"

// sysProcAttr has nothing to add where Pdeathsig does not exist; t.Cleanup
// still stops the server when the test ends normally.
func sysProcAttr() *syscall.SysProcAttr { return nil }
