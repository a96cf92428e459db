package main

// Fault injection for the fault suite: faults armed over the control channel (control.go), fired when a
// lease is created, during a disk download, or at once.

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

const (
	faultNfcDrop        = "nfc-drop"
	faultLeaseError     = "lease-error"
	faultExpireSessions = "expire-sessions"
	faultUnreachable    = "unreachable"

	whenInitializing = "initializing"
	whenTransfer     = "transfer"

	defaultLeaseFault = "A general system error occurred: the ESX host ended the NFC export session"
)

type faultSpec struct {
	Kind       string `json:"kind"`
	When       string `json:"when,omitempty"`
	AfterBytes int64  `json:"afterBytes,omitempty"`
	Count      int    `json:"count,omitempty"`
	Message    string `json:"message,omitempty"`
}

// onTransfer reports whether the fault fires while a disk is being downloaded.
func (f *faultSpec) onTransfer() bool {
	return f.Kind == faultNfcDrop || (f.Kind == faultLeaseError && f.When == whenTransfer) ||
		(f.Kind == faultExpireSessions && f.AfterBytes > 0)
}

type injector struct {
	mu       sync.Mutex
	armed    []*faultSpec
	injected map[string]int
	transfer atomic.Int32 // armed transfer faults: downloads are wrapped only while some are armed

	server *simulator.Server
	addr   string
	down   bool

	imports *importRegistry // counted in status
}

func newInjector() *injector {
	return &injector{injected: map[string]int{}}
}

func (inj *injector) attach(s *simulator.Server) {
	inj.server = s
	inj.addr = s.Listener.Addr().String()
}

func (inj *injector) arm(f faultSpec) (interface{}, error) {
	switch f.Kind {
	case faultNfcDrop:
		if f.AfterBytes < 1 {
			return nil, fmt.Errorf("nfc-drop needs afterBytes ≥ 1")
		}
	case faultLeaseError:
		if f.When != whenInitializing && f.When != whenTransfer {
			return nil, fmt.Errorf(`lease-error needs "when": "initializing" or "transfer"`)
		}
		if f.When == whenTransfer && f.AfterBytes < 1 {
			return nil, fmt.Errorf("lease-error during transfer needs afterBytes ≥ 1")
		}
		if f.Message == "" {
			f.Message = defaultLeaseFault
		}
	case faultExpireSessions:
		if f.AfterBytes <= 0 {
			n := expireAllSessions()
			inj.mu.Lock()
			inj.injected[faultExpireSessions]++
			inj.mu.Unlock()
			return map[string]int{"terminated": n}, nil
		}
	default:
		return nil, fmt.Errorf("unknown fault kind %q (nfc-drop, lease-error, expire-sessions)", f.Kind)
	}
	if f.Count <= 0 {
		f.Count = 1
	}
	inj.mu.Lock()
	defer inj.mu.Unlock()
	spec := f
	inj.armed = append(inj.armed, &spec)
	if spec.onTransfer() {
		inj.transfer.Add(1)
	}
	return nil, nil
}

// take consumes one firing of an armed fault; false when another download used it up first.
func (inj *injector) take(f *faultSpec) bool {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	if f.Count <= 0 {
		return false
	}
	f.Count--
	inj.injected[f.Kind]++
	if f.Count == 0 {
		inj.removeLocked(f)
	}
	return true
}

func (inj *injector) removeLocked(f *faultSpec) {
	for i, a := range inj.armed {
		if a == f {
			inj.armed = append(inj.armed[:i], inj.armed[i+1:]...)
			if f.onTransfer() {
				inj.transfer.Add(-1)
			}
			return
		}
	}
}

// leaseInitFault consumes a lease-error armed for the next new lease; "" when none is armed.
func (inj *injector) leaseInitFault() string {
	inj.mu.Lock()
	var found *faultSpec
	for _, a := range inj.armed {
		if a.Kind == faultLeaseError && a.When == whenInitializing {
			found = a
			break
		}
	}
	inj.mu.Unlock()
	if found == nil || !inj.take(found) {
		return ""
	}
	return found.Message
}

// transferFaults returns the armed faults a new download is subject to (nil on the fast path).
func (inj *injector) transferFaults() []*faultSpec {
	if inj == nil || inj.transfer.Load() == 0 {
		return nil
	}
	inj.mu.Lock()
	defer inj.mu.Unlock()
	var out []*faultSpec
	for _, a := range inj.armed {
		if a.onTransfer() {
			out = append(out, a)
		}
	}
	return out
}

func (inj *injector) clear() {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	inj.armed = nil
	inj.transfer.Store(0)
}

// setReachable closes the HTTPS listener (and every open connection), or listens again on the same address.
func (inj *injector) setReachable(on bool) error {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	if inj.server == nil {
		return fmt.Errorf("the server is not started")
	}
	switch {
	case !on && !inj.down:
		_ = inj.server.Listener.Close()
		inj.server.CloseClientConnections()
		inj.down = true
		inj.injected[faultUnreachable]++
	case on && inj.down:
		ln, err := net.Listen("tcp", inj.addr)
		if err != nil {
			return fmt.Errorf("cannot listen on %s again: %v", inj.addr, err)
		}
		inj.server.Listener = tls.NewListener(ln, inj.server.TLS)
		go func(l net.Listener) { _ = inj.server.Config.Serve(l) }(inj.server.Listener)
		inj.down = false
	}
	return nil
}

type faultStatus struct {
	Injected   map[string]int `json:"injected"`
	Armed      []faultSpec    `json:"armed"`
	OpenLeases int            `json:"openLeases"`
	// Import leases (ImportVApp) not yet completed or aborted.
	OpenImportLeases int  `json:"openImportLeases"`
	Sessions         int  `json:"sessions"`
	Reachable        bool `json:"reachable"`
}

func (inj *injector) status(reg *exportRegistry) faultStatus {
	inj.mu.Lock()
	st := faultStatus{Injected: map[string]int{}, Armed: []faultSpec{}, Reachable: !inj.down}
	for _, k := range []string{faultNfcDrop, faultLeaseError, faultExpireSessions, faultUnreachable} {
		st.Injected[k] = inj.injected[k]
	}
	for _, a := range inj.armed {
		st.Armed = append(st.Armed, *a)
	}
	inj.mu.Unlock()
	st.OpenLeases = reg.leases.open()
	if inj.imports != nil {
		st.OpenImportLeases = inj.imports.leases.open()
	}
	st.Sessions = len(sessionKeys())
	return st
}

func sessionKeys() []string {
	view := &simulator.Session{Registry: simulator.NewRegistry()}
	sm, ok := view.Get(sessionManagerRef).(*simulator.SessionManager)
	if !ok {
		return nil
	}
	keys := make([]string, 0, len(sm.SessionList))
	for _, s := range sm.SessionList {
		keys = append(keys, s.Key)
	}
	return keys
}

// expireAllSessions ends every session, as vCenter does when sessions time out or an administrator ends them.
func expireAllSessions() int {
	sm := simulator.Map.SessionManager()
	// TerminateSession only refuses the caller's own key; this context belongs to no session.
	ctx := &simulator.Context{Session: &simulator.Session{UserSession: types.UserSession{Key: "lab-fault-injector"}}}
	n := 0
	for _, k := range sessionKeys() {
		if r := sm.TerminateSession(ctx, &types.TerminateSession{SessionId: []string{k}}); r.Fault() == nil {
			n++
		}
	}
	return n
}

// faultWriter counts the bytes of one disk download and fires the transfer faults armed when it started.
type faultWriter struct {
	http.ResponseWriter
	inj    *injector
	lease  *exportLease
	faults []*faultSpec
	sent   int64
}

func (w *faultWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		var next *faultSpec
		for _, f := range w.faults {
			if f.AfterBytes > w.sent && f.AfterBytes <= w.sent+int64(len(p)) && (next == nil || f.AfterBytes < next.AfterBytes) {
				next = f
			}
		}
		if next == nil {
			n, err := w.ResponseWriter.Write(p)
			w.sent += int64(n)
			return written + n, err
		}
		n, err := w.ResponseWriter.Write(p[:next.AfterBytes-w.sent])
		w.sent += int64(n)
		written += n
		if err != nil {
			return written, err
		}
		p = p[n:]
		w.remove(next)
		if !w.inj.take(next) {
			continue
		}
		switch next.Kind {
		case faultExpireSessions:
			expireAllSessions()
		case faultLeaseError:
			w.lease.fail(next.Message)
			w.drop()
		case faultNfcDrop:
			w.drop()
		}
	}
	return written, nil
}

func (w *faultWriter) remove(f *faultSpec) {
	for i, x := range w.faults {
		if x == f {
			w.faults = append(w.faults[:i], w.faults[i+1:]...)
			return
		}
	}
}

// drop sends what was written so far and closes the connection mid-body (the handler never returns).
func (w *faultWriter) drop() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	panic(http.ErrAbortHandler)
}

// fail moves the lease to `error` with the given fault text and stops serving its disks.
func (l *exportLease) fail(msg string) {
	simulator.Map.WithLock(l, func() {
		if l.State == types.HttpNfcLeaseStateDone || l.State == types.HttpNfcLeaseStateError {
			return
		}
		l.State = types.HttpNfcLeaseStateError
		l.Error = &types.LocalizedMethodFault{Fault: &types.SystemError{Reason: msg}, LocalizedMessage: msg}
	})
	l.reg.leases.revoke(l.token)
}
