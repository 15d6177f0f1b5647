package libpath

import (
	"syscall"
	"unsafe"
)

// kernelSigaction is struct sigaction as the rt_sigaction system call
// takes it on linux/amd64.
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

// goSignals are the signal dispositions the Go runtime installed, read in
// this package's init, before chdb-go loads libchdb.
var goSignals [65]kernelSigaction

func sigaction(sig int, set, old *kernelSigaction) syscall.Errno {
	_, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(set)), uintptr(unsafe.Pointer(old)), 8, 0, 0)
	return e
}

func saveSignals() {
	for sig := 1; sig < len(goSignals); sig++ {
		if sig == int(syscall.SIGKILL) || sig == int(syscall.SIGSTOP) {
			continue
		}
		_ = sigaction(sig, nil, &goSignals[sig])
	}
}

// RestoreSignals puts back, for every signal whose disposition the chDB
// engine changed, the one the Go runtime had installed, and returns those
// signals. The engine installs its own fault handlers (SIGSEGV, SIGBUS,
// …) when a session starts; with them a Go nil-pointer dereference no
// longer panics but hangs its thread in the engine's handler and later
// kills the process. Call it after opening a session.
func RestoreSignals() []int {
	var restored []int
	for sig := 1; sig < len(goSignals); sig++ {
		if sig == int(syscall.SIGKILL) || sig == int(syscall.SIGSTOP) {
			continue
		}
		var now kernelSigaction
		if sigaction(sig, nil, &now) != 0 || now == goSignals[sig] {
			continue
		}
		want := goSignals[sig]
		if sigaction(sig, &want, nil) == 0 {
			restored = append(restored, sig)
		}
	}
	return restored
}
