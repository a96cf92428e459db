package main

import (
	"fmt"
	"strings"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// What both directions of NFC share (export.go serves downloads, import.go takes uploads): the live leases by the
// token of their /nfc/<token>/<file> URLs, the reference a lease is registered under, and vCenter's checks on
// HttpNfcLeaseProgress and on a lease in error.

// nfcLeases holds the live leases of one direction by URL token; a lease leaves when it completes or is aborted.
type nfcLeases[L any] struct {
	mu  sync.Mutex
	all map[string]L
}

func newNFCLeases[L any]() *nfcLeases[L] { return &nfcLeases[L]{all: map[string]L{}} }

func (t *nfcLeases[L]) add(token string, lease L) {
	t.mu.Lock()
	t.all[token] = lease
	t.mu.Unlock()
}

func (t *nfcLeases[L]) revoke(token string) {
	t.mu.Lock()
	delete(t.all, token)
	t.mu.Unlock()
}

// open is how many leases are live (the fault suite's status).
func (t *nfcLeases[L]) open() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.all)
}

// find reads /nfc/<token>/<file>: the live lease of that token and the file name; false when it is none of ours.
func (t *nfcLeases[L]) find(path string) (lease L, file string, ok bool) {
	parts := strings.Split(strings.TrimPrefix(path, "/nfc/"), "/")
	if len(parts) != 2 {
		return lease, "", false
	}
	t.mu.Lock()
	lease, ok = t.all[parts[0]]
	t.mu.Unlock()
	return lease, parts[1], ok
}

// newLeaseRef is a vCenter-looking lease reference that reveals nothing: the stock one embeds the session key, which
// the simulator also uses as the session cookie.
func newLeaseRef() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "HttpNfcLease", Value: fmt.Sprintf("session[%s]%s", newUUID(), newUUID())}
}

// leaseFault is the fault of a lease in state error (nil otherwise): vCenter refuses progress and completion then.
func leaseFault(l *simulator.HttpNfcLease) *soap.Fault {
	if l.State != types.HttpNfcLeaseStateError || l.Error == nil {
		return nil
	}
	return soapFault(l.Error.LocalizedMessage, l.Error.Fault)
}

// progressFault refuses HttpNfcLeaseProgress with a percentage outside 0–100, then on a lease in error.
func progressFault(l *simulator.HttpNfcLease, percent int32) *soap.Fault {
	if percent < 0 || percent > 100 {
		return soapFault(fmt.Sprintf("percent must be between 0 and 100, got %d", percent), &types.InvalidArgument{InvalidProperty: "percent"})
	}
	return leaseFault(l)
}
