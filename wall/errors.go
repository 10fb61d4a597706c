package wall

import (
	"net/http"

	"github.com/backchannel/backchannel/internal/jsonhttp"
)

// StatusOf maps an event error code to its HTTP status (see jsonhttp, the
// one place this mapping lives).
func StatusOf(code string) int { return jsonhttp.StatusOf(code) }

// ErrorBody is the JSON body of every error response:
// {"error":{"code":"not_found","message":"no event \"x\""}}.
type ErrorBody = jsonhttp.ErrorBody

// ErrorDetail is the code (an event error code) and a message safe to show.
type ErrorDetail = jsonhttp.ErrorDetail

// WriteError answers with err as JSON, its status from its code; internal
// errors are logged and answered as "internal error".
func WriteError(w http.ResponseWriter, r *http.Request, err error) { jsonhttp.WriteError(w, r, err) }

// WriteJSON answers with v as JSON and the status, never cached.
func WriteJSON(w http.ResponseWriter, status int, v any) { jsonhttp.WriteJSON(w, status, v) }
