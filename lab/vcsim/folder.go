package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
)

// HTTP datastore file access, /folder/<path>?dcPath=<datacenter>&dsName=<datastore>, as vCenter serves it:
// a vim25 session cookie is required (401 without), reading needs Datastore.Browse on the datastore and
// writing Datastore.FileManagement (403). A VM disk's "<dir>/<name>-flat.vmdk" is served from the lab's disk
// content (Range supported, constant memory); every other file goes to the simulator's own handler.
func (g *gate) serveFolder(w http.ResponseWriter, r *http.Request) {
	var user string
	if c, err := r.Cookie(soap.SessionCookieName); err == nil {
		if s, ok := lookupSession(c.Value); ok {
			user = s.UserName
		}
	}
	if user == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="VMware HTTP server"`)
		http.Error(w, "Unauthorized: log in to the vCenter (vim25 Login) and send its session cookie vmware_soap_session.", http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	ds, why := findFolderDatastore(q.Get("dcPath"), q.Get("dsName"))
	if ds == nil {
		http.Error(w, why, http.StatusNotFound)
		return
	}
	priv := "Datastore.FileManagement"
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		priv = "Datastore.Browse"
	}
	if g.lab.policy != nil && !g.lab.policy.granted(user, ds.Self, priv) {
		http.Error(w, fmt.Sprintf("Forbidden: %s lacks the privilege %s on datastore %s.", user, priv, ds.Name), http.StatusForbidden)
		return
	}
	rel := strings.TrimPrefix(r.URL.Path, "/folder/")
	if strings.HasSuffix(rel, "-flat.vmdk") {
		file := fmt.Sprintf("[%s] %s.vmdk", ds.Name, strings.TrimSuffix(rel, "-flat.vmdk"))
		if g.lab.disks.serveFlat(w, r, file) {
			return
		}
	}
	g.next.ServeHTTP(w, r)
}

// findFolderDatastore resolves dcPath and dsName (dcPath may be empty when there is one datacenter).
func findFolderDatastore(dcPath, dsName string) (*simulator.Datastore, string) {
	var dc *simulator.Datacenter
	for _, e := range simulator.Map.All("Datacenter") {
		d := e.(*simulator.Datacenter)
		if d.Name == strings.Trim(dcPath, "/") || (dcPath == "" && dc == nil) {
			dc = d
		}
	}
	if dc == nil {
		return nil, fmt.Sprintf("Not Found: no datacenter %q (dcPath names the datacenter, e.g. dcPath=DC0).", dcPath)
	}
	ds, ok := simulator.Map.FindByName(dsName, dc.Datastore).(*simulator.Datastore)
	if !ok {
		return nil, fmt.Sprintf("Not Found: datacenter %s has no datastore %q (dsName names it, e.g. dsName=%s).", dc.Name, dsName, labDatastore)
	}
	return ds, ""
}

// serveFlat serves a known disk's raw content: while its VM has snapshots the base disk is as of the oldest
// one (later writes go to delta disks), otherwise it is live. false: not a lab disk.
func (r *diskRegistry) serveFlat(w http.ResponseWriter, req *http.Request, file string) bool {
	known := func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		_, ok := r.disks[file]
		return ok
	}
	if !known() {
		r.registerAll() // a VM created since start
		if !known() {
			return false
		}
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "The disk of a registered VM is read-only over /folder.", http.StatusMethodNotAllowed)
		return true
	}
	epoch, frozen := r.baseDiskEpoch(file)
	v := r.view(file, epoch, !frozen)
	r.folderRequests.Add(1)
	w.Header().Set("Content-Type", "application/octet-stream")
	name := file[strings.LastIndex(file, "/")+1:]
	http.ServeContent(&countingWriter{ResponseWriter: w, n: &r.folderBytes}, req, name, time.Time{}, io.NewSectionReader(v, 0, v.capacity))
	return true
}

type countingWriter struct {
	http.ResponseWriter
	n interface{ Add(int64) int64 }
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	return n, err
}
