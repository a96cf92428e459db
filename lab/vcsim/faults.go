package main

import (
	"bytes"
	"net/http"
	"reflect"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// Faults written by the gate (before the simulator dispatches) use the simulator's wire format:
// HTTP 500, faultcode ServerFaultCode, detail element <{Type}Fault xmlns="urn:vim25" xsi:type="{Type}">.
type faultEnvelope struct {
	XMLName xml.Name `xml:"soapenv:Envelope"`
	Enc     string   `xml:"xmlns:soapenc,attr"`
	Env     string   `xml:"xmlns:soapenv,attr"`
	XSD     string   `xml:"xmlns:xsd,attr"`
	XSI     string   `xml:"xmlns:xsi,attr"`
	Body    struct {
		Fault struct {
			Code   string `xml:"faultcode"`
			String string `xml:"faultstring"`
			Detail struct {
				Fault faultDetail
			} `xml:"detail"`
		} `xml:"soapenv:Fault"`
	} `xml:"soapenv:Body"`
}

type faultDetail struct{ fault types.BaseMethodFault }

func (d faultDetail) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	kind := reflect.TypeOf(d.fault).Elem().Name()
	start.Name = xml.Name{Local: kind + "Fault"}
	start.Attr = []xml.Attr{
		{Name: xml.Name{Local: "xmlns"}, Value: "urn:vim25"},
		{Name: xml.Name{Local: "xsi:type"}, Value: kind},
	}
	return e.EncodeElement(d.fault, start)
}

func writeFault(w http.ResponseWriter, msg string, fault types.BaseMethodFault) {
	env := faultEnvelope{
		Enc: "http://schemas.xmlsoap.org/soap/encoding/",
		Env: "http://schemas.xmlsoap.org/soap/envelope/",
		XSD: "http://www.w3.org/2001/XMLSchema",
		XSI: "http://www.w3.org/2001/XMLSchema-instance",
	}
	env.Body.Fault.Code = "ServerFaultCode"
	env.Body.Fault.String = msg
	env.Body.Fault.Detail.Fault = faultDetail{fault}
	var out bytes.Buffer
	out.WriteString(xml.Header)
	if err := xml.NewEncoder(&out).Encode(&env); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write(out.Bytes())
}

// soapFault builds the fault a handler returns; the simulator encodes it like its own.
func soapFault(msg string, fault types.BaseMethodFault) *soap.Fault {
	return simulator.Fault(msg, fault)
}

// noPermission is vCenter's answer when the session user lacks a privilege on an object.
func noPermission(obj types.ManagedObjectReference, priv string) (types.BaseMethodFault, string) {
	return &types.NoPermission{Object: obj, PrivilegeId: priv}, "Permission to perform this operation was denied"
}
