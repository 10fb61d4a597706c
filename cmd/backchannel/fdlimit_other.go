//go:build !unix

package main

// raiseFileLimit knows no open-file limit on this system.
func raiseFileLimit() (soft, hard uint64, err error) { return 0, 0, nil }
