// Package libpath locates the chDB engine (libchdb.so) before chdb-go loads
// it, and stops the process with a clear message when it is missing.
//
// Why this exists: chdb-go's chdb-purego package dlopens libchdb.so in its
// package init and panics with an obscure dlopen error when the library is
// not where it looks (CHDB_LIB_PATH, $PATH, /usr/local/lib). relance installs
// the library under .cache/libchdb/ in the repository (make libchdb), which
// chdb-go does not know about.
//
// How it works: Go initializes, among the packages whose imports are already
// initialized, the first one in import-path order. This package imports only
// "os", so it becomes ready as soon as os is, whereas chdb-purego also needs
// fmt, os/exec and path/filepath; since "path/filepath" sorts after
// "github.com/relance-io/…", this init always runs before chdb-purego's. Keep
// the import list to "os" alone: adding path/filepath (or anything that
// chdb-purego's imports would wait for) could silently break the ordering.
//
// Importers: package sinks/chdb imports it for its side effect, alongside
// chdb-go; nothing else needs to.
package libpath

import "os"

// envVar is the variable chdb-purego reads first.
const envVar = "CHDB_LIB_PATH"

var path string

// Path returns the libchdb.so that chdb-go loads (the value of CHDB_LIB_PATH
// after init).
func Path() string { return path }

func init() {
	// Before chdb-go's init loads the engine: see RestoreSignals.
	saveSignals()
	if p := os.Getenv(envVar); p != "" && isFile(p) {
		path = p
		return
	}
	var looked []string
	for _, p := range candidates() {
		looked = append(looked, p)
		if isFile(p) {
			path = p
			if err := os.Setenv(envVar, p); err != nil {
				os.Stderr.WriteString("relance: cannot set " + envVar + ": " + err.Error() + "\n")
				os.Exit(2)
			}
			return
		}
	}
	msg := "relance: the chDB engine (libchdb.so) was not found: looked in "
	if p := os.Getenv(envVar); p != "" {
		msg += envVar + "=" + p + " (no such file), "
	}
	for i, p := range looked {
		if i > 0 {
			msg += ", "
		}
		msg += p
	}
	msg += "; install it with `make libchdb` (scripts/install-libchdb.sh) or set " + envVar + " to its path\n"
	os.Stderr.WriteString(msg)
	os.Exit(2)
}

// candidates lists, in order: .cache/libchdb/libchdb.so in the working
// directory and each of its parents up to /, then next to the executable
// (<exe dir>/../.cache/libchdb/libchdb.so, <exe dir>/libchdb.so), then
// /usr/local/lib/libchdb.so.
func candidates() []string {
	const rel = ".cache/libchdb/libchdb.so"
	var out []string
	if wd, err := os.Getwd(); err == nil {
		for dir := clean(wd); ; dir = parent(dir) {
			out = append(out, join(dir, rel))
			if dir == "/" {
				break
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		dir := parent(clean(exe))
		out = append(out, join(parent(dir), rel), join(dir, "libchdb.so"))
	}
	out = append(out, "/usr/local/lib/libchdb.so")
	uniq := out[:0]
	for i, p := range out {
		dup := false
		for _, q := range out[:i] {
			dup = dup || q == p
		}
		if !dup {
			uniq = append(uniq, p)
		}
	}
	return uniq
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// clean strips trailing slashes (keeping a lone "/").
func clean(p string) string {
	for len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}

// parent returns the directory holding p: "/a/b" → "/a", "/a" → "/",
// "/" → "/", "a" → ".".
func parent(p string) string {
	p = clean(p)
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			if i == 0 {
				return "/"
			}
			return p[:i]
		}
	}
	if p == "/" {
		return "/"
	}
	return "."
}

func join(dir, rel string) string {
	if dir == "/" {
		return "/" + rel
	}
	return dir + "/" + rel
}
