package wall_test

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/wall"
)

// A handler that has read its whole body may work past the body timeout
// with its context alive (net/http lifts the deadline at the end of the
// body). A body still arriving at the timeout fails with a
// *wall.BodyTimeoutError.
func TestBodyTimeoutSparesAHandlerThatReadItsBody(t *testing.T) {
	const timeout = 300 * time.Millisecond
	srv := wall.New(wall.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), BodyTimeout: timeout})
	srv.HandleFunc("POST /slow", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(3 * timeout):
			// working past the body timeout is what is tested
			io.WriteString(w, "done")
		case <-r.Context().Done():
			http.Error(w, "context ended: "+context0(r), http.StatusInternalServerError)
		}
	})
	srv.HandleFunc("POST /read", func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		var te *wall.BodyTimeoutError
		if !errors.As(err, &te) || !errors.Is(err, os.ErrDeadlineExceeded) {
			http.Error(w, "read error "+errString(err), http.StatusInternalServerError)
			return
		}
		http.Error(w, err.Error(), http.StatusRequestTimeout)
	})
	ts := httptest.NewServer(srv)
	defer ts.Close()

	res, err := http.Post(ts.URL+"/slow", "text/plain", strings.NewReader("a small body"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "done" {
		t.Errorf("handler past the body timeout: %s %s", res.Status, b)
	}

	// A body that stops arriving: 19 bytes of the 1000 announced.
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nthe start of a body"); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(timeout + 3*time.Second))
	res, err = http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("stalled body not cut at the body timeout: %v", err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "did not arrive within 300ms") {
		t.Errorf("stalled body: %s %s", res.Status, b)
	}
	if d := time.Since(start); d > timeout+2*time.Second {
		t.Errorf("stalled body answered after %v, timeout %v", d, timeout)
	}
}

func context0(r *http.Request) string { return errString(r.Context().Err()) }

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}
