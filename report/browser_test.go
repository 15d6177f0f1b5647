package report_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relance-io/relance/stream"
)

// Rule: opened in headless Debian Chromium, the report loads with no
// console error, no uncaught exception and no network request other than
// the file itself; the KPI tiles read from the DOM equal the brute-force
// oracle; the horizon selector switches the detailed sections. Screenshots
// are saved to $RELANCE_ARTIFACTS/report (default .artifacts/report at the
// module root), and their paths logged.
func TestReport_Browser(t *testing.T) {
	bin := chromium(t)
	fx := newFixture(t, "en")
	dir := artifactDir(t)
	page := filepath.Join(dir, "report-browser.html")
	if err := os.WriteFile(page, fx.html, 0o644); err != nil {
		t.Fatal(err)
	}
	url := "file://" + page

	b := startBrowser(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s := b.openPage(ctx, t)
	for _, m := range []string{"Runtime.enable", "Log.enable", "Network.enable", "Page.enable"} {
		s.call(ctx, t, m, nil)
	}
	s.call(ctx, t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1360, "height": 900, "deviceScaleFactor": 1, "mobile": false})
	s.call(ctx, t, "Page.navigate", map[string]any{"url": url})
	b.waitEvent(ctx, t, s.id, "Page.loadEventFired")

	var tiles [][3]string
	s.eval(ctx, t, `Array.from(document.querySelectorAll('[id^="kpi-"]')).map(e => [e.id, e.dataset.value, e.textContent])`, &tiles)
	got := map[string][2]string{}
	for _, tl := range tiles {
		got[tl[0]] = [2]string{tl[1], tl[2]}
	}
	checkTiles(t, got, oracleTiles(fx.ds, stream.DefaultHorizons, fx.tz))

	var visible []bool
	s.eval(ctx, t, `(() => {
		const shown = h => document.querySelector('.hz[data-h="' + h + '"]').offsetParent !== null;
		const before = [shown("7d"), shown("30d")];
		const sel = document.getElementById("hsel");
		sel.value = "30d";
		sel.dispatchEvent(new Event("change"));
		const after = [shown("7d"), shown("30d")];
		sel.value = "7d";
		sel.dispatchEvent(new Event("change"));
		return before.concat(after);
	})()`, &visible)
	if fmt.Sprint(visible) != "[true false false true]" {
		t.Errorf("horizon selector: 7d/30d sections shown before and after choosing 30d = %v, want [true false false true]", visible)
	}

	shot := func(name string, full bool) {
		params := map[string]any{"format": "png"}
		if full {
			var m struct {
				CSSContentSize struct{ Width, Height float64 } `json:"cssContentSize"`
			}
			json.Unmarshal(s.call(ctx, t, "Page.getLayoutMetrics", nil), &m)
			params["captureBeyondViewport"] = true
			params["clip"] = map[string]any{"x": 0, "y": 0, "width": 1360, "height": m.CSSContentSize.Height, "scale": 1}
		}
		var r struct{ Data string }
		json.Unmarshal(s.call(ctx, t, "Page.captureScreenshot", params), &r)
		png, err := base64.StdEncoding.DecodeString(r.Data)
		if err != nil || len(png) < 1000 {
			t.Fatalf("screenshot %s: %d bytes, %v", name, len(png), err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
	shot("report-top.png", false)
	shot("report-full.png", true)
	// The long page in readable parts, for a human look at the artifacts.
	var height float64
	s.eval(ctx, t, `document.documentElement.scrollHeight`, &height)
	for i, y := 0, 0.0; y < height && i < 12; i, y = i+1, y+1500 {
		var r struct{ Data string }
		clip := map[string]any{"x": 0, "y": y, "width": 1360, "height": min(1500, height-y), "scale": 1}
		json.Unmarshal(s.call(ctx, t, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true, "clip": clip}), &r)
		png, _ := base64.StdEncoding.DecodeString(r.Data)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("report-part%02d.png", i+1)), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The console listener works: a deliberate error is seen (then ignored).
	s.eval(ctx, t, `console.error("relance-probe"); true`, new(bool))
	time.Sleep(300 * time.Millisecond)
	probed := false
	for _, e := range b.eventsOf(s.id) {
		switch e.Method {
		case "Runtime.consoleAPICalled":
			var p struct {
				Type string
				Args []struct{ Value any }
			}
			json.Unmarshal(e.Params, &p)
			if p.Type == "error" || p.Type == "warning" || p.Type == "assert" {
				if len(p.Args) == 1 && p.Args[0].Value == "relance-probe" {
					probed = true
					continue
				}
				t.Errorf("console %s: %s", p.Type, e.Params)
			}
		case "Runtime.exceptionThrown":
			t.Errorf("uncaught exception: %s", e.Params)
		case "Log.entryAdded":
			var p struct {
				Entry struct{ Level, Text, URL string }
			}
			json.Unmarshal(e.Params, &p)
			if p.Entry.Level == "error" || p.Entry.Level == "warning" {
				t.Errorf("browser log %s: %s %s", p.Entry.Level, p.Entry.Text, p.Entry.URL)
			}
		case "Network.requestWillBeSent":
			var p struct{ Request struct{ URL string } }
			json.Unmarshal(e.Params, &p)
			if p.Request.URL != url {
				t.Errorf("network request to %s", p.Request.URL)
			}
		}
	}
	if !probed {
		t.Error("the deliberate console.error was not seen: console errors would go unnoticed")
	}
}

// chromium finds Debian's chromium (or $RELANCE_CHROMIUM); the test fails,
// not skips, without it: the browser check is part of the acceptance.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("RELANCE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: install it with `apt-get install chromium` (Debian package chromium), or set RELANCE_CHROMIUM to its path")
	return ""
}

// browser is headless Chromium driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe: commands on fd 3, replies and events on fd 4,
// NUL-terminated JSON), so no port and no WebSocket are needed.
type browser struct {
	cmd *exec.Cmd
	w   *os.File

	mu      sync.Mutex
	nextID  int
	pending map[int]chan cdpMsg
	events  []cdpMsg
	notify  chan struct{}
}

type cdpMsg struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Error     *struct {
		Code    int
		Message string
	} `json:"error,omitempty"`
}

func startBrowser(t *testing.T, bin string) *browser {
	t.Helper()
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
		"--host-resolver-rules=MAP * ~NOTFOUND",
		"--user-data-dir="+t.TempDir(), "--remote-debugging-pipe", "about:blank")
	cmd.ExtraFiles = []*os.File{cmdR, outW}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	cmdR.Close()
	outW.Close()
	b := &browser{cmd: cmd, w: cmdW, pending: map[int]chan cdpMsg{}, notify: make(chan struct{}, 1)}
	go b.read(outR)
	t.Cleanup(func() {
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		b.send(cdpMsg{Method: "Browser.close"})
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		cmdW.Close()
		if t.Failed() {
			t.Logf("chromium stderr:\n%s", stderr.String())
		}
	})
	return b
}

func (b *browser) read(r *os.File) {
	br := bufio.NewReader(r)
	for {
		raw, err := br.ReadBytes(0)
		if err != nil {
			return
		}
		var m cdpMsg
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil {
			continue
		}
		b.mu.Lock()
		if m.ID != 0 {
			if ch := b.pending[m.ID]; ch != nil {
				ch <- m
				delete(b.pending, m.ID)
			}
		} else {
			b.events = append(b.events, m)
			select {
			case b.notify <- struct{}{}:
			default:
			}
		}
		b.mu.Unlock()
	}
}

// send writes one command and returns the channel of its reply.
func (b *browser) send(m cdpMsg) chan cdpMsg {
	ch := make(chan cdpMsg, 1)
	b.mu.Lock()
	b.nextID++
	m.ID = b.nextID
	b.pending[m.ID] = ch
	b.mu.Unlock()
	raw, _ := json.Marshal(m)
	b.w.Write(append(raw, 0))
	return ch
}

func (b *browser) call(ctx context.Context, t *testing.T, session, method string, params any) json.RawMessage {
	t.Helper()
	m := cdpMsg{Method: method, SessionID: session}
	if params != nil {
		m.Params, _ = json.Marshal(params)
	}
	select {
	case r := <-b.send(m):
		if r.Error != nil {
			t.Fatalf("%s: %d %s", method, r.Error.Code, r.Error.Message)
		}
		return r.Result
	case <-ctx.Done():
		t.Fatalf("%s: no reply: %v", method, ctx.Err())
	}
	return nil
}

func (b *browser) eventsOf(session string) []cdpMsg {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []cdpMsg
	for _, e := range b.events {
		if e.SessionID == session {
			out = append(out, e)
		}
	}
	return out
}

func (b *browser) waitEvent(ctx context.Context, t *testing.T, session, method string) {
	t.Helper()
	for {
		for _, e := range b.eventsOf(session) {
			if e.Method == method {
				return
			}
		}
		select {
		case <-b.notify:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", method, ctx.Err())
		}
	}
}

// session is one page target attached in flat mode.
type session struct {
	b  *browser
	id string
}

func (b *browser) openPage(ctx context.Context, t *testing.T) *session {
	t.Helper()
	var r struct{ TargetID string }
	json.Unmarshal(b.call(ctx, t, "", "Target.createTarget", map[string]any{"url": "about:blank"}), &r)
	var a struct{ SessionID string }
	json.Unmarshal(b.call(ctx, t, "", "Target.attachToTarget", map[string]any{"targetId": r.TargetID, "flatten": true}), &a)
	return &session{b: b, id: a.SessionID}
}

func (s *session) call(ctx context.Context, t *testing.T, method string, params any) json.RawMessage {
	t.Helper()
	return s.b.call(ctx, t, s.id, method, params)
}

// eval evaluates expr in the page and decodes its JSON value into v.
func (s *session) eval(ctx context.Context, t *testing.T, expr string, v any) {
	t.Helper()
	var r struct {
		Result           struct{ Value json.RawMessage }
		ExceptionDetails json.RawMessage
	}
	json.Unmarshal(s.call(ctx, t, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}), &r)
	if r.ExceptionDetails != nil {
		t.Fatalf("evaluate: %s", r.ExceptionDetails)
	}
	if err := json.Unmarshal(r.Result.Value, v); err != nil {
		t.Fatalf("evaluate: %v in %s", err, r.Result.Value)
	}
}
