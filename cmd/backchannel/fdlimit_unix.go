//go:build unix

package main

import "syscall"

// raiseFileLimit raises RLIMIT_NOFILE's soft limit to its hard limit and
// returns both. (Go's runtime does the same at start on most systems;
// doing it here makes it certain, and gives the values to log.)
func raiseFileLimit() (soft, hard uint64, err error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, err
	}
	if rl.Cur < rl.Max {
		want := rl
		want.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return uint64(rl.Cur), uint64(rl.Max), err
		}
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return 0, 0, err
		}
	}
	return uint64(rl.Cur), uint64(rl.Max), nil
}
