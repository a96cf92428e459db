package main

import (
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// extensionManager replaces the simulator's empty ExtensionManager placeholder. extensionList is served
// by the PropertyCollector from the embedded mo.ExtensionManager.
//
// govmomi 0.24.2 predates ExtensionServerInfo.serverCertificate (vSphere 8.0U2), so RegisterExtension and
// UpdateExtension are decoded into local copies of the vim25 types that carry it, certificates are kept
// on the side, and extension lists are encoded with them again (FindExtension, ArrayOfExtension).
type extensionManager struct {
	mo.ExtensionManager
	lab *lab
}

// certificates by extension key, one entry per server[] index; also read while encoding responses.
var extensionCerts sync.Map

func installExtensionManager(l *lab) *extensionManager {
	types.Add("RegisterExtension", reflect.TypeOf((*labRegisterExtension)(nil)).Elem())
	types.Add("UpdateExtension", reflect.TypeOf((*labUpdateExtension)(nil)).Elem())
	types.Add("ArrayOfExtension", reflect.TypeOf((*ArrayOfExtension)(nil)).Elem())

	m := &extensionManager{lab: l}
	m.Self = *l.content.ExtensionManager
	simulator.Map.Put(m)
	return m
}

// has reports whether an extension key is registered (used by the login gate).
func (m *extensionManager) has(key string) bool {
	_, ok := extensionCerts.Load(key)
	return ok && key != ""
}

func (m *extensionManager) find(key string) int {
	for i := range m.ExtensionList {
		if m.ExtensionList[i].Key == key {
			return i
		}
	}
	return -1
}

func validExtension(ext *types.Extension) *soap.Fault {
	if ext.Key == "" {
		return soapFault("A specified parameter was not correct: extension.key (it must not be empty)", &types.InvalidArgument{InvalidProperty: "extension.key"})
	}
	if ext.Version == "" {
		return soapFault("A specified parameter was not correct: extension.version (it must not be empty)", &types.InvalidArgument{InvalidProperty: "extension.version"})
	}
	return nil
}

func (m *extensionManager) RegisterExtension(ctx *simulator.Context, req *labRegisterExtension) soap.HasFault {
	body := &methods.RegisterExtensionBody{}
	if f := m.lab.policy.check(ctx, m.lab.content.RootFolder, "Extension.Register"); f != nil {
		body.Fault_ = f
		return body
	}
	ext, certs := req.Extension.toVim()
	if f := validExtension(&ext); f != nil {
		body.Fault_ = f
		return body
	}
	if m.find(ext.Key) >= 0 {
		body.Fault_ = soapFault(fmt.Sprintf("A specified parameter was not correct: extension.key (%s is already registered; use UpdateExtension or unregister it first)", ext.Key),
			&types.InvalidArgument{InvalidProperty: "extension.key"})
		return body
	}
	if ext.LastHeartbeatTime.IsZero() || ext.LastHeartbeatTime.Year() < 2000 {
		ext.LastHeartbeatTime = time.Now().UTC()
	}
	extensionCerts.Store(ext.Key, certs)
	m.ExtensionList = append(m.ExtensionList, ext)
	m.lab.policy.setExtensionPrivileges(ext.PrivilegeList, true)
	body.Res = &types.RegisterExtensionResponse{}
	return body
}

func (m *extensionManager) UpdateExtension(ctx *simulator.Context, req *labUpdateExtension) soap.HasFault {
	body := &methods.UpdateExtensionBody{}
	if f := m.lab.policy.check(ctx, m.lab.content.RootFolder, "Extension.Update"); f != nil {
		body.Fault_ = f
		return body
	}
	ext, certs := req.Extension.toVim()
	if f := validExtension(&ext); f != nil {
		body.Fault_ = f
		return body
	}
	i := m.find(ext.Key)
	if i < 0 {
		body.Fault_ = soapFault(fmt.Sprintf("The object or item referred to could not be found: extension %s is not registered (use RegisterExtension)", ext.Key), &types.NotFound{})
		return body
	}
	if ext.LastHeartbeatTime.IsZero() || ext.LastHeartbeatTime.Year() < 2000 {
		ext.LastHeartbeatTime = time.Now().UTC()
	}
	old := m.ExtensionList[i]
	extensionCerts.Store(ext.Key, certs)
	m.ExtensionList[i] = ext
	m.lab.policy.setExtensionPrivileges(old.PrivilegeList, false)
	m.lab.policy.setExtensionPrivileges(ext.PrivilegeList, true)
	body.Res = &types.UpdateExtensionResponse{}
	return body
}

func (m *extensionManager) UnregisterExtension(ctx *simulator.Context, req *types.UnregisterExtension) soap.HasFault {
	body := &methods.UnregisterExtensionBody{}
	if f := m.lab.policy.check(ctx, m.lab.content.RootFolder, "Extension.Unregister"); f != nil {
		body.Fault_ = f
		return body
	}
	i := m.find(req.ExtensionKey)
	if i < 0 {
		body.Fault_ = soapFault(fmt.Sprintf("The object or item referred to could not be found: extension %s is not registered", req.ExtensionKey), &types.NotFound{})
		return body
	}
	old := m.ExtensionList[i]
	m.ExtensionList = append(m.ExtensionList[:i:i], m.ExtensionList[i+1:]...)
	extensionCerts.Delete(req.ExtensionKey)
	m.lab.policy.setExtensionPrivileges(old.PrivilegeList, false)
	body.Res = &types.UnregisterExtensionResponse{}
	return body
}

// FindExtensionResponse keeps the vim25 name; its extension carries serverCertificate.
type FindExtensionResponse struct {
	Returnval *labExtension `xml:"returnval,omitempty"`
}

type findExtensionBody struct {
	Res    *FindExtensionResponse `xml:"FindExtensionResponse,omitempty"`
	Fault_ *soap.Fault            `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault,omitempty"`
}

func (b *findExtensionBody) Fault() *soap.Fault { return b.Fault_ }

func (m *extensionManager) FindExtension(req *types.FindExtension) soap.HasFault {
	res := &FindExtensionResponse{}
	if i := m.find(req.ExtensionKey); i >= 0 {
		ext := fromVim(m.ExtensionList[i])
		res.Returnval = &ext
	}
	return &findExtensionBody{Res: res}
}

// SetExtensionCertificate is accepted for registered extensions (the lab does not verify certificates).
func (m *extensionManager) SetExtensionCertificate(ctx *simulator.Context, req *types.SetExtensionCertificate) soap.HasFault {
	body := &methods.SetExtensionCertificateBody{}
	if f := m.lab.policy.check(ctx, m.lab.content.RootFolder, "Extension.Update"); f != nil {
		body.Fault_ = f
		return body
	}
	if m.find(req.ExtensionKey) < 0 {
		body.Fault_ = soapFault(fmt.Sprintf("The object or item referred to could not be found: extension %s is not registered", req.ExtensionKey), &types.NotFound{})
		return body
	}
	body.Res = &types.SetExtensionCertificateResponse{}
	return body
}

// --- local copies of the vim25 extension types, with serverCertificate ---

type labRegisterExtension struct {
	This      types.ManagedObjectReference `xml:"_this"`
	Extension labExtension                 `xml:"extension"`
}

type labUpdateExtension struct {
	This      types.ManagedObjectReference `xml:"_this"`
	Extension labExtension                 `xml:"extension"`
}

type labExtension struct {
	types.DynamicData

	Description            types.BaseDescription           `xml:"description,typeattr"`
	Key                    string                          `xml:"key"`
	Company                string                          `xml:"company,omitempty"`
	Type                   string                          `xml:"type,omitempty"`
	Version                string                          `xml:"version"`
	SubjectName            string                          `xml:"subjectName,omitempty"`
	Server                 []labExtensionServerInfo        `xml:"server,omitempty"`
	Client                 []types.ExtensionClientInfo     `xml:"client,omitempty"`
	TaskList               []types.ExtensionTaskTypeInfo   `xml:"taskList,omitempty"`
	EventList              []types.ExtensionEventTypeInfo  `xml:"eventList,omitempty"`
	FaultList              []types.ExtensionFaultTypeInfo  `xml:"faultList,omitempty"`
	PrivilegeList          []types.ExtensionPrivilegeInfo  `xml:"privilegeList,omitempty"`
	ResourceList           []types.ExtensionResourceInfo   `xml:"resourceList,omitempty"`
	LastHeartbeatTime      time.Time                       `xml:"lastHeartbeatTime"`
	HealthInfo             *types.ExtensionHealthInfo      `xml:"healthInfo,omitempty"`
	OvfConsumerInfo        *types.ExtensionOvfConsumerInfo `xml:"ovfConsumerInfo,omitempty"`
	ExtendedProductInfo    *types.ExtExtendedProductInfo   `xml:"extendedProductInfo,omitempty"`
	ManagedEntityInfo      []types.ExtManagedEntityInfo    `xml:"managedEntityInfo,omitempty"`
	ShownInSolutionManager *bool                           `xml:"shownInSolutionManager"`
	SolutionManagerInfo    *types.ExtSolutionManagerInfo   `xml:"solutionManagerInfo,omitempty"`
}

type labExtensionServerInfo struct {
	types.DynamicData

	Url               string                `xml:"url"`
	Description       types.BaseDescription `xml:"description,typeattr"`
	Company           string                `xml:"company"`
	Type              string                `xml:"type"`
	AdminEmail        []string              `xml:"adminEmail"`
	ServerThumbprint  string                `xml:"serverThumbprint,omitempty"`
	ServerCertificate string                `xml:"serverCertificate,omitempty"`
}

func (e labExtension) toVim() (types.Extension, []string) {
	out := types.Extension{
		Description: e.Description, Key: e.Key, Company: e.Company, Type: e.Type, Version: e.Version,
		SubjectName: e.SubjectName, Client: e.Client, TaskList: e.TaskList, EventList: e.EventList,
		FaultList: e.FaultList, PrivilegeList: e.PrivilegeList, ResourceList: e.ResourceList,
		LastHeartbeatTime: e.LastHeartbeatTime, HealthInfo: e.HealthInfo, OvfConsumerInfo: e.OvfConsumerInfo,
		ExtendedProductInfo: e.ExtendedProductInfo, ManagedEntityInfo: e.ManagedEntityInfo,
		ShownInSolutionManager: e.ShownInSolutionManager, SolutionManagerInfo: e.SolutionManagerInfo,
	}
	certs := make([]string, len(e.Server))
	for i, s := range e.Server {
		out.Server = append(out.Server, types.ExtensionServerInfo{
			Url: s.Url, Description: s.Description, Company: s.Company, Type: s.Type,
			AdminEmail: s.AdminEmail, ServerThumbprint: s.ServerThumbprint,
		})
		certs[i] = s.ServerCertificate
	}
	return out, certs
}

func fromVim(e types.Extension) labExtension {
	var certs []string
	if v, ok := extensionCerts.Load(e.Key); ok {
		certs = v.([]string)
	}
	out := labExtension{
		Description: e.Description, Key: e.Key, Company: e.Company, Type: e.Type, Version: e.Version,
		SubjectName: e.SubjectName, Client: e.Client, TaskList: e.TaskList, EventList: e.EventList,
		FaultList: e.FaultList, PrivilegeList: e.PrivilegeList, ResourceList: e.ResourceList,
		LastHeartbeatTime: e.LastHeartbeatTime, HealthInfo: e.HealthInfo, OvfConsumerInfo: e.OvfConsumerInfo,
		ExtendedProductInfo: e.ExtendedProductInfo, ManagedEntityInfo: e.ManagedEntityInfo,
		ShownInSolutionManager: e.ShownInSolutionManager, SolutionManagerInfo: e.SolutionManagerInfo,
	}
	for i, s := range e.Server {
		ls := labExtensionServerInfo{
			Url: s.Url, Description: s.Description, Company: s.Company, Type: s.Type,
			AdminEmail: s.AdminEmail, ServerThumbprint: s.ServerThumbprint,
		}
		if i < len(certs) {
			ls.ServerCertificate = certs[i]
		}
		out.Server = append(out.Server, ls)
	}
	return out
}

// ArrayOfExtension replaces the vim25 type the PropertyCollector wraps extensionList in (same field, so
// the collector can fill it), and encodes each extension with its server certificates.
type ArrayOfExtension struct {
	Extension []types.Extension `xml:"Extension,omitempty"`
}

func (a ArrayOfExtension) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, ext := range a.Extension {
		if err := e.EncodeElement(fromVim(ext), xml.StartElement{Name: xml.Name{Local: "Extension"}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}
