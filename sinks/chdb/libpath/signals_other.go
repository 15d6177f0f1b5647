//go:build !(linux && amd64)

package libpath

func saveSignals() {}

// RestoreSignals is a no-op where libchdb is not built (it is linux/amd64).
func RestoreSignals() []int { return nil }
