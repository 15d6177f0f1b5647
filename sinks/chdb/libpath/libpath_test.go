package libpath

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Run from inside the repository, init finds .cache/libchdb/libchdb.so by
// walking up from the working directory and exports it as CHDB_LIB_PATH.
func TestInit_FindsRepositoryCache(t *testing.T) {
	if os.Getenv("LIBPATH_CHILD") != "" {
		t.Skip("child process of TestInit_MissingLibraryExitsWithHelp: it only runs libpath's init, which must exit before any test")
	}
	p := Path()
	if !strings.HasSuffix(p, "/.cache/libchdb/libchdb.so") && os.Getenv(envVar) == "" {
		t.Fatalf("Path() = %q, want the repository's .cache/libchdb/libchdb.so", p)
	}
	if got := os.Getenv(envVar); got != p {
		t.Errorf("%s = %q, want %q", envVar, got, p)
	}
}

// When the library is nowhere to be found, the process stops with exit
// code 2 and a message saying where it looked and how to install it,
// instead of chdb-go's panic on dlopen.
func TestInit_MissingLibraryExitsWithHelp(t *testing.T) {
	if _, err := os.Stat("/usr/local/lib/libchdb.so"); err == nil {
		t.Skip("/usr/local/lib/libchdb.so exists: the library cannot be missing")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Dir = t.TempDir() // no .cache/libchdb above it
	cmd.Env = append(os.Environ(), envVar+"=/nonexistent/libchdb.so", "LIBPATH_CHILD=1")
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 {
		t.Fatalf("child: err = %v, output %q; want exit code 2", err, out)
	}
	for _, want := range []string{"libchdb.so) was not found", "make libchdb", "CHDB_LIB_PATH", "/nonexistent/libchdb.so", cmd.Dir + "/.cache/libchdb/libchdb.so"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("message %q does not mention %q", out, want)
		}
	}
}

func TestParent(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := parent(in); got != want {
			t.Errorf("parent(%q) = %q, want %q", in, got, want)
		}
	}
	f("/a/b", "/a")
	f("/a/b/", "/a")
	f("/a", "/")
	f("/", "/")
	f("a", ".")
}
