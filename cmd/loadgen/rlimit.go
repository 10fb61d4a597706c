package main

import (
	"fmt"
	"syscall"
)

// raiseNoFile raises the soft limit of open files to the hard limit: ten
// thousand sockets need ten thousand descriptors.
func raiseNoFile() error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("setrlimit: %w", err)
	}
	return nil
}
