package main

// Playing a given vSphere API release (-api-version). Real vCenter reads each request with the schema of the
// release its SOAPAction names (urn:vim25/<release>): it refuses a release newer than its own, and refuses
// any element that release does not define ("Unexpected element tag … seen", vmodl.fault.InvalidRequest).
// Stock vcsim decodes leniently, so clients that send fields an older vCenter does not know would pass here
// and fail in production. The check covers the requests the lab decodes into its own types (extensions).

import (
	"bytes"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// fieldSince lists the fields of the checked types that arrived after vSphere API 7.0 (Go type.xml name).
var fieldSince = map[string]string{
	// vSphere Web Services API reference, ExtensionServerInfo: "serverCertificate … Since vSphere API Release 8.0.2.0".
	"labExtensionServerInfo.serverCertificate": "8.0.2.0",
}

// vimTypeName is how vCenter names the checked types in its parse errors.
var vimTypeName = map[string]string{
	"labExtension":           "vim.Extension",
	"labExtensionServerInfo": "vim.Extension.ServerInfo",
	"ExtensionClientInfo":    "vim.Extension.ClientInfo",
	"ExtensionPrivilegeInfo": "vim.Extension.PrivilegeInfo",
	"ExtensionResourceInfo":  "vim.Extension.ResourceInfo",
	"Description":            "vim.Description",
	"KeyValue":               "vim.KeyValue",
}

// strictMethods are the requests checked element by element, with the type of their one parameter.
var strictMethods = map[string]struct {
	param string
	typ   reflect.Type
}{
	"RegisterExtension": {"extension", reflect.TypeOf(labExtension{})},
	"UpdateExtension":   {"extension", reflect.TypeOf(labExtension{})},
}

func parseVersion(v string) ([]int, bool) {
	parts := strings.Split(strings.TrimSpace(v), ".")
	out := make([]int, 0, len(parts))
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, false
		}
		out = append(out, n)
	}
	return out, len(out) > 0
}

// compareVersions orders dotted releases numerically ("8.0.1.0" < "8.0.2.0"; missing parts count as 0).
func compareVersions(a, b []int) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		x, y := 0, 0
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// requestVersion is the release a request asks for: its SOAPAction "urn:vim25/<release>", else the server's own.
func requestVersion(r *http.Request, server string) string {
	action := strings.Trim(strings.TrimSpace(r.Header.Get("SOAPAction")), `"`)
	if v := strings.TrimPrefix(action, "urn:vim25/"); v != action && v != "" {
		return v
	}
	return server
}

// checkAPIVersion answers false after writing vCenter's fault when the request does not fit the release played.
func (g *gate) checkAPIVersion(w http.ResponseWriter, r *http.Request, method string, body []byte) bool {
	server := g.lab.apiVersion
	if server == "" {
		return true // not playing a release: stock vcsim's lenient decoding
	}
	asked := requestVersion(r, server)
	av, ok := parseVersion(asked)
	sv, _ := parseVersion(server)
	if !ok || compareVersions(av, sv) > 0 {
		writeFault(w, fmt.Sprintf("Request version 'urn:vim25/%s' and namespace 'urn:vim25' are not supported", asked), &types.InvalidRequest{})
		return false
	}
	spec, checked := strictMethods[method]
	if !checked {
		return true
	}
	if msg := unexpectedElement(body, method, spec.param, spec.typ, av); msg != "" {
		writeFault(w, msg, &types.InvalidRequest{})
		return false
	}
	return true
}

// unexpectedElement walks the method's parameter and returns vCenter's parse error for the first element
// the release does not define, or "".
func unexpectedElement(body []byte, method, param string, typ reflect.Type, release []int) string {
	d := xml.NewDecoder(bytes.NewReader(body))
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			// Envelope(1) > Body(2) > Method(3) > parameter(4)
			if depth == 4 && t.Name.Local == param {
				if msg := walkElement(d, typ, release); msg != "" {
					return fmt.Sprintf("%s\n\nwhile parsing call information for method %s", msg, method)
				}
				return ""
			}
		case xml.EndElement:
			depth--
		}
	}
}

var timeType = reflect.TypeOf(time.Time{})

// walkElement consumes one element of Go type typ (its start already read) and checks its children.
func walkElement(d *xml.Decoder, typ reflect.Type, release []int) string {
	for typ.Kind() == reflect.Ptr || typ.Kind() == reflect.Slice {
		typ = typ.Elem()
	}
	if typ.Kind() == reflect.Interface {
		typ = reflect.TypeOf(types.Description{}) // BaseDescription: the only interface-typed field checked
	}
	if typ.Kind() != reflect.Struct || typ == timeType {
		return skipRest(d)
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		switch t := tok.(type) {
		case xml.StartElement:
			f, ok := xmlField(typ, t.Name.Local)
			name := vimTypeName[typ.Name()]
			if name == "" {
				name = typ.Name()
			}
			since := fieldSince[typ.Name()+"."+t.Name.Local]
			if sv, _ := parseVersion(since); !ok || (since != "" && compareVersions(release, sv) < 0) {
				return fmt.Sprintf("Unexpected element tag \"%s\" seen\n\nwhile parsing serialized DataObject of type %s", t.Name.Local, name)
			}
			if msg := walkElement(d, f.Type, release); msg != "" {
				return fmt.Sprintf("%s\n\nwhile parsing property \"%s\" of static type %s", msg, t.Name.Local, name)
			}
		case xml.EndElement:
			return ""
		}
	}
}

// xmlField finds the field serialised as element name, including fields of embedded structs.
func xmlField(typ reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			if inner, ok := xmlField(f.Type, name); ok {
				return inner, true
			}
			continue
		}
		tag := strings.Split(f.Tag.Get("xml"), ",")[0]
		if tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// skipRest consumes the rest of a simple element.
func skipRest(d *xml.Decoder) string {
	if err := d.Skip(); err != nil {
		return ""
	}
	return ""
}
