package main

// The control channel of the fault suite (inject.go has the faults). Commands arrive as JSON lines on stdin
// (flag -control-stdin), so only the process that started the simulator can inject faults: nothing is exposed on
// the network.
//
//	{"id":1,"op":"inject","fault":{"kind":"nfc-drop","afterBytes":6291456,"count":1}}
//	{"id":2,"op":"inject","fault":{"kind":"lease-error","when":"initializing","message":"…"}}
//	{"id":3,"op":"inject","fault":{"kind":"lease-error","when":"transfer","afterBytes":6291456}}
//	{"id":4,"op":"inject","fault":{"kind":"expire-sessions"}}                  (now)
//	{"id":5,"op":"inject","fault":{"kind":"expire-sessions","afterBytes":6291456}} (mid-download)
//	{"id":6,"op":"reachable","on":false}   {"id":7,"op":"clear"}   {"id":8,"op":"status"}
//	{"id":9,"op":"goroutines"}   (every goroutine's stack, as SIGQUIT prints it, without ending the process)
//
// Each command is answered with one JSON line on stdout: {"id":1,"ok":true,"result":…} or {"id":1,"ok":false,"error":"…"}.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
)

type controlRequest struct {
	ID    int64     `json:"id"`
	Op    string    `json:"op"`
	Fault faultSpec `json:"fault"`
	On    bool      `json:"on"`
}

type controlResponse struct {
	ID     int64       `json:"id"`
	OK     bool        `json:"ok"`
	Result interface{} `json:"result,omitempty"`
	Error  string      `json:"error,omitempty"`
}

// serveControl answers commands from r until EOF.
func serveControl(r io.Reader, out *bufio.Writer, inj *injector, reg *exportRegistry) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var req controlRequest
		resp := controlResponse{}
		if err := json.Unmarshal(line, &req); err != nil {
			resp.Error = fmt.Sprintf("unreadable command: %v", err)
		} else {
			resp.ID = req.ID
			var err error
			switch req.Op {
			case "inject":
				resp.Result, err = inj.arm(req.Fault)
			case "clear":
				inj.clear()
			case "status":
				resp.Result = inj.status(reg)
			case "reachable":
				err = inj.setReachable(req.On)
			case "goroutines":
				resp.Result = goroutineDump()
			default:
				err = fmt.Errorf("unknown op %q (inject, clear, status, reachable, goroutines)", req.Op)
			}
			if err != nil {
				resp.Error = err.Error()
			} else {
				resp.OK = true
			}
		}
		b, _ := json.Marshal(resp)
		_, _ = out.Write(append(b, '\n'))
		_ = out.Flush()
	}
}

// goroutineDump is every goroutine's stack: what a test that waited too long on the lab vCenter reports.
func goroutineDump() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) || len(buf) >= 64<<20 {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}
