package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// lab holds the extensions around one simulator instance.
type lab struct {
	cfg     *Config
	content types.ServiceContent
	policy  *policy
	exports *exportRegistry
	imports *importRegistry // ImportVApp leases that keep what they receive
	ext     *extensionManager
	inj     *injector
	disks   *diskRegistry // lab writes, snapshots' frozen disks, Changed Block Tracking

	baseURL       string // https://127.0.0.1:PORT
	sslThumbprint string // SHA-1 of the server certificate, colon hex
	apiVersion    string // the release played with -api-version (strict schema); "" = lenient
}

func newLab(m *simulator.Model, cfg *Config) (*lab, error) {
	seeds, err := buildInventory(m, cfg)
	if err != nil {
		return nil, err
	}
	si := simulator.Map.Get(vim25.ServiceInstance).(*simulator.ServiceInstance)
	l := &lab{cfg: cfg, content: si.Content}
	l.exports = newExportRegistry(seeds)
	l.imports = newImportRegistry(l)
	l.inj = newInjector()
	l.inj.imports = l.imports
	l.exports.inj = l.inj
	l.disks = newDiskRegistry(l.exports.ps, l.exports.seedOf)
	l.exports.disks = l.disks
	l.disks.registerAll()
	simulator.Map.AddHandler(l.disks)

	if l.policy, err = installAuthorization(l, cfg); err != nil {
		return nil, err
	}
	l.ext = installExtensionManager(l)
	installOvfManager(l)
	installTaskManager(l)
	return l, nil
}

// attach wraps the started server's handler; nothing has the URL yet, so no request races the swap.
func (l *lab) attach(s *simulator.Server) {
	l.baseURL = "https://" + s.URL.Host
	sum := sha1.Sum(s.Certificate().Raw)
	l.sslThumbprint = colonHex(sum[:])
	l.exports.baseURL = l.baseURL
	l.exports.thumbprint = l.sslThumbprint
	l.inj.attach(s)
	s.Config.Handler = &gate{lab: l, next: s.Config.Handler}
}

// gate sits in front of the simulator's HTTP handler: it serves export downloads, checks logins and
// privileges, and re-targets SOAP calls the simulator cannot dispatch itself (see vcsim.md §4).
type gate struct {
	lab  *lab
	next http.Handler
}

// retarget maps "Method on Type" to a private managed object type that implements it.
var retarget = map[string]string{
	"ExportVm/VirtualMachine":               exportVMType,
	"ExportSnapshot/VirtualMachineSnapshot": exportSnapshotType,
	"QueryChangedDiskAreas/VirtualMachine":  cbtVMType,
	"ImportVApp/ResourcePool":               importVAppType,
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/nfc/") && (g.lab.exports.serve(w, r) || g.lab.imports.serve(w, r)) {
		return
	}
	if strings.HasPrefix(r.URL.Path, "/folder/") {
		g.serveFolder(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/lab/") {
		g.serveLab(w, r)
		return
	}
	reconfig := types.ManagedObjectReference{}
	if r.Method == http.MethodPost && (r.URL.Path == "/sdk" || r.URL.Path == "/sdk/vimService") {
		body, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			http.Error(w, "cannot read request body", http.StatusBadRequest)
			return
		}
		if body = g.inspect(w, r, body); body == nil {
			return // answered with a fault
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		if method, this, ok := peekMethod(body); ok && method == "ReconfigVM_Task" {
			reconfig = this
		}
	}
	g.next.ServeHTTP(w, r)
	if reconfig.Value != "" {
		g.lab.disks.syncVM(reconfig) // changeTrackingEnabled may have changed
	}
}

// inspect returns the (possibly rewritten) request body, or nil after writing a fault.
func (g *gate) inspect(w http.ResponseWriter, r *http.Request, body []byte) []byte {
	method, this, ok := peekMethod(body)
	if !ok {
		return body // let the simulator report the malformed request
	}
	if !g.checkAPIVersion(w, r, method, body) {
		return nil
	}
	switch method {
	case "Login":
		req, err := simulator.UnmarshalBody(types.TypeFunc(), body)
		if err != nil {
			return body
		}
		login := req.Body.(*types.Login)
		if pw, known := g.lab.cfg.password(login.UserName); !known || pw != login.Password {
			writeFault(w, "Cannot complete login due to an incorrect user name or password.", &types.InvalidLogin{})
			return nil
		}
	case "LoginByToken":
		writeFault(w, "The lab vCenter has no SSO token service; log in with a user name and password.", &types.InvalidLogin{})
		return nil
	case "LoginExtensionByCertificate", "LoginExtensionBySubjectName":
		req, err := simulator.UnmarshalBody(types.TypeFunc(), body)
		if err != nil {
			return body
		}
		key := ""
		switch x := req.Body.(type) {
		case *types.LoginExtensionByCertificate:
			key = x.ExtensionKey
		case *types.LoginExtensionBySubjectName:
			key = x.ExtensionKey
		}
		if g.lab.ext == nil || !g.lab.ext.has(key) {
			writeFault(w, fmt.Sprintf("Cannot complete login: extension %q is not registered with this vCenter.", key), &types.InvalidLogin{})
			return nil
		}
	}

	if !sessionFree[method] {
		if cookie, err := r.Cookie(soap.SessionCookieName); err == nil && cookie.Value != "" {
			if _, live := lookupSession(cookie.Value); !live {
				// vCenter refuses every call on an ended session (expired, terminated); stock vcsim still
				// answers property reads for it, with nothing in them.
				writeFault(w, "The session is not authenticated.", &types.NotAuthenticated{NoPermission: types.NoPermission{Object: this, PrivilegeId: "System.View"}})
				return nil
			}
		}
	}

	if g.lab.policy != nil {
		if fault, msg := g.lab.policy.guard(r, method, this, body); fault != nil {
			writeFault(w, msg, fault)
			return nil
		}
	}

	if typ, ok := retarget[method+"/"+this.Type]; ok {
		if ensureRetargetObject(g.lab, typ, this) {
			return rewriteThisType(body, typ)
		}
	}
	return body
}

// sessionFree are the methods vCenter answers without a live session.
var sessionFree = map[string]bool{
	"RetrieveServiceContent": true, "Login": true, "LoginByToken": true, "LoginExtensionByCertificate": true,
	"LoginExtensionBySubjectName": true, "LoginBySSPI": true, "CloneSession": true,
}

// peekMethod finds the SOAP method name and its _this reference without decoding the whole body.
func peekMethod(body []byte) (string, types.ManagedObjectReference, bool) {
	var this types.ManagedObjectReference
	d := xml.NewDecoder(bytes.NewReader(body))
	inBody, method := false, ""
	for {
		tok, err := d.Token()
		if err != nil {
			return method, this, method != ""
		}
		t, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch {
		case !inBody:
			if t.Name.Local == "Body" {
				inBody = true
			} else if t.Name.Local != "Envelope" {
				_ = d.Skip() // SOAP header
			}
		case method == "":
			method = t.Name.Local
		case t.Name.Local == "_this":
			for _, a := range t.Attr {
				if a.Name.Local == "type" {
					this.Type = a.Value
				}
			}
			var v string
			if err := d.DecodeElement(&v, &t); err != nil {
				return method, this, false
			}
			this.Value = strings.TrimSpace(v)
			return method, this, true
		default:
			if err := d.Skip(); err != nil {
				return method, this, false
			}
		}
	}
}

var thisTypeRE = regexp.MustCompile(`(<(?:[A-Za-z0-9_.-]+:)?_this\b[^>]*?\btype\s*=\s*)("[^"]*"|'[^']*')`)

// rewriteThisType changes the type attribute of the first _this element.
func rewriteThisType(body []byte, typ string) []byte {
	loc := thisTypeRE.FindSubmatchIndex(body)
	if loc == nil {
		return body
	}
	out := make([]byte, 0, len(body)+len(typ))
	out = append(out, body[:loc[4]]...)
	out = append(out, '"')
	out = append(out, typ...)
	out = append(out, '"')
	return append(out, body[loc[5]:]...)
}

// ensureRetargetObject registers the private object for this moref value (only if the real object exists).
func ensureRetargetObject(l *lab, typ string, this types.ManagedObjectReference) bool {
	ref := types.ManagedObjectReference{Type: typ, Value: this.Value}
	if simulator.Map.Get(ref) != nil {
		return true
	}
	if simulator.Map.Get(this) == nil {
		return false // the simulator answers ManagedObjectNotFound
	}
	switch typ {
	case exportVMType:
		simulator.Map.Put(&vmExporter{ExtensibleManagedObject: mo.ExtensibleManagedObject{Self: ref}, lab: l})
	case exportSnapshotType:
		simulator.Map.Put(&snapshotExporter{ExtensibleManagedObject: mo.ExtensibleManagedObject{Self: ref}, lab: l})
	case cbtVMType:
		simulator.Map.Put(&vmChangeTracking{ExtensibleManagedObject: mo.ExtensibleManagedObject{Self: ref}, lab: l})
	case importVAppType:
		simulator.Map.Put(&vappImporter{ExtensibleManagedObject: mo.ExtensibleManagedObject{Self: ref}, lab: l})
	default:
		return false
	}
	return true
}
