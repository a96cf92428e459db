package main

import (
	"fmt"
	"log"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

const (
	adminRoleID    = int32(-1)
	firstCustomID  = int32(1001)
	maxParentDepth = 64
)

var systemPrivileges = []string{"System.Anonymous", "System.View", "System.Read"}

// policy holds roles, privileges and permissions, and answers "may user U do P on entity E".
// Evaluation follows vCenter: the nearest permission of the user on the inventory path wins,
// permissions on ancestors count only when they propagate, and Admin holds every defined privilege.
type policy struct {
	mu         sync.RWMutex
	privileges []types.AuthorizationPrivilege
	privSet    map[string]bool
	roles      []types.AuthorizationRole
	perms      map[types.ManagedObjectReference][]types.Permission
	nextRole   int32
	root       types.ManagedObjectReference
	mgr        *authManager
}

func installAuthorization(l *lab, cfg *Config) (*policy, error) {
	stock := simulator.Map.Get(*l.content.AuthorizationManager).(*simulator.AuthorizationManager)
	p := &policy{
		privSet:  map[string]bool{},
		perms:    map[types.ManagedObjectReference][]types.Permission{},
		nextRole: firstCustomID,
		root:     l.content.RootFolder,
	}
	p.roles = append(p.roles, stock.RoleList...)
	for _, r := range p.roles { // Admin lists 275 privileges, NoCryptoAdmin a few more: define them all
		for _, id := range r.Privilege {
			p.addPrivilege(id)
		}
	}
	for _, id := range systemPrivileges {
		p.addPrivilege(id)
	}
	for _, priv := range guardedPrivileges() {
		if !p.privSet[priv] {
			log.Printf("warning: guarded privilege %s is not defined", priv)
		}
	}

	for _, r := range cfg.Roles {
		if _, err := p.addRole(r.Name, r.Privileges); err != nil {
			return nil, fmt.Errorf("role %s: %s", r.Name, err.message)
		}
	}
	for _, perm := range cfg.Permissions {
		ref, err := findEntity(perm.Entity, p.root)
		if err != nil {
			return nil, err
		}
		role, ok := p.roleByName(perm.Role)
		if !ok {
			return nil, fmt.Errorf("permission for %s names the unknown role %s", perm.Principal, perm.Role)
		}
		p.setPermission(types.Permission{Entity: &ref, Principal: perm.Principal, RoleId: role.RoleId, Propagate: perm.Propagate})
	}

	p.mgr = &authManager{AuthorizationManager: *stock, policy: p}
	p.syncManager()
	simulator.Map.Put(p.mgr)
	return p, nil
}

type policyError struct {
	fault   types.BaseMethodFault
	message string
}

func (p *policy) addPrivilege(id string) {
	if p.privSet[id] {
		return
	}
	group, name := "", id
	if i := strings.LastIndex(id, "."); i > 0 {
		group, name = id[:i], id[i+1:]
	}
	p.privSet[id] = true
	p.privileges = append(p.privileges, types.AuthorizationPrivilege{PrivId: id, Name: name, PrivGroupName: group})
}

func (p *policy) removePrivilege(id string) {
	if !p.privSet[id] {
		return
	}
	delete(p.privSet, id)
	for i := range p.privileges {
		if p.privileges[i].PrivId == id {
			p.privileges = append(p.privileges[:i], p.privileges[i+1:]...)
			break
		}
	}
}

// rolePrivileges validates ids and adds the system privileges every role has (as vCenter does).
func (p *policy) rolePrivileges(ids []string) ([]string, *policyError) {
	seen := map[string]bool{}
	var out []string
	for _, id := range append(append([]string{}, systemPrivileges...), ids...) {
		if !p.privSet[id] {
			return nil, &policyError{&types.InvalidArgument{InvalidProperty: "privIds"},
				fmt.Sprintf("privilege %q does not exist on this vCenter; check the spelling (privilege ids look like VApp.Export)", id)}
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

func (p *policy) addRole(name string, privIds []string) (int32, *policyError) {
	if _, exists := p.roleByName(name); exists {
		return 0, &policyError{&types.AlreadyExists{Name: name}, fmt.Sprintf("a role named %q already exists", name)}
	}
	ids, err := p.rolePrivileges(privIds)
	if err != nil {
		return 0, err
	}
	id := p.nextRole
	p.nextRole++
	p.roles = append(p.roles, types.AuthorizationRole{
		RoleId: id, Name: name, System: false, Privilege: ids,
		Info: &types.Description{Label: name, Summary: name},
	})
	return id, nil
}

func (p *policy) roleByName(name string) (*types.AuthorizationRole, bool) {
	for i := range p.roles {
		if p.roles[i].Name == name {
			return &p.roles[i], true
		}
	}
	return nil, false
}

func (p *policy) roleByID(id int32) (*types.AuthorizationRole, bool) {
	for i := range p.roles {
		if p.roles[i].RoleId == id {
			return &p.roles[i], true
		}
	}
	return nil, false
}

// setPermission adds or replaces the permission of one principal on one entity.
func (p *policy) setPermission(perm types.Permission) {
	ref := *perm.Entity
	list := p.perms[ref]
	for i := range list {
		if strings.EqualFold(list[i].Principal, perm.Principal) && list[i].Group == perm.Group {
			list[i] = perm
			return
		}
	}
	p.perms[ref] = append(list, perm)
}

// syncManager copies roles and privileges into the managed object the PropertyCollector serves.
// Callers hold the manager's simulator lock (inside its own methods) or take it.
func (p *policy) syncManager() {
	p.mu.RLock()
	defer p.mu.RUnlock()
	p.mgr.RoleList = make([]types.AuthorizationRole, len(p.roles))
	for i, r := range p.roles {
		r.Privilege = append([]string(nil), r.Privilege...)
		if r.RoleId == adminRoleID {
			r.Privilege = p.allPrivilegeIDs()
		}
		p.mgr.RoleList[i] = r
	}
	p.mgr.PrivilegeList = append([]types.AuthorizationPrivilege(nil), p.privileges...)
}

func (p *policy) allPrivilegeIDs() []string {
	ids := make([]string, 0, len(p.privileges))
	for _, priv := range p.privileges {
		ids = append(ids, priv.PrivId)
	}
	sort.Strings(ids)
	return ids
}

// effectiveRole walks from the entity to the root folder; nearest applicable permission wins.
func (p *policy) effectiveRole(user string, entity types.ManagedObjectReference) (*types.AuthorizationRole, bool) {
	cur := entity
	for depth := 0; depth < maxParentDepth; depth++ {
		for _, perm := range p.perms[cur] {
			if !perm.Group && strings.EqualFold(perm.Principal, user) && (depth == 0 || perm.Propagate) {
				return p.roleByID(perm.RoleId)
			}
		}
		parent := entityParent(cur)
		if parent == nil {
			return nil, false
		}
		cur = *parent
	}
	return nil, false
}

func (p *policy) privilegesOf(user string, entity types.ManagedObjectReference) []string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	role, ok := p.effectiveRole(user, entity)
	if !ok {
		return nil
	}
	if role.RoleId == adminRoleID {
		return p.allPrivilegeIDs()
	}
	return append([]string(nil), role.Privilege...)
}

func (p *policy) granted(user string, entity types.ManagedObjectReference, priv string) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.grantedLocked(user, entity, priv)
}

func (p *policy) grantedLocked(user string, entity types.ManagedObjectReference, priv string) bool {
	if user == "" || !p.privSet[priv] {
		return false
	}
	role, ok := p.effectiveRole(user, entity)
	if !ok {
		return false
	}
	if role.RoleId == adminRoleID {
		return true
	}
	for _, id := range role.Privilege {
		if id == priv {
			return true
		}
	}
	return false
}

// check returns a NoPermission fault body when the session user lacks priv on entity.
func (p *policy) check(ctx *simulator.Context, entity types.ManagedObjectReference, priv string) *soap.Fault {
	user := ""
	if ctx.Session != nil {
		user = ctx.Session.UserName
	}
	if p.granted(user, entity, priv) {
		return nil
	}
	fault, msg := noPermission(entity, priv)
	return soapFault(msg, fault)
}

// Methods checked by the gate before the simulator runs them: method → privilege on _this.
var guardedMethods = map[string]string{
	"CreateSnapshot_Task":          "VirtualMachine.State.CreateSnapshot",
	"RemoveSnapshot_Task":          "VirtualMachine.State.RemoveSnapshot",
	"RemoveAllSnapshots_Task":      "VirtualMachine.State.RemoveSnapshot",
	"RevertToSnapshot_Task":        "VirtualMachine.State.RevertToSnapshot",
	"RevertToCurrentSnapshot_Task": "VirtualMachine.State.RevertToSnapshot",
	"PowerOnVM_Task":               "VirtualMachine.Interact.PowerOn",
	"PowerOffVM_Task":              "VirtualMachine.Interact.PowerOff",
	"SuspendVM_Task":               "VirtualMachine.Interact.Suspend",
	"ResetVM_Task":                 "VirtualMachine.Interact.Reset",
	"ShutdownGuest":                "VirtualMachine.Interact.PowerOff",
	"RebootGuest":                  "VirtualMachine.Interact.Reset",
	"ReconfigVM_Task":              "VirtualMachine.Config.Settings", // changeTrackingEnabled alone: see reconfigPrivilege
	"QueryChangedDiskAreas":        "VirtualMachine.Provisioning.DiskRandomRead",
	"CloneVM_Task":                 "VirtualMachine.Provisioning.Clone",
	"MarkAsTemplate":               "VirtualMachine.Provisioning.MarkAsTemplate",
	"CreateFolder":                 "Folder.Create",
	"Destroy_Task/VirtualMachine":  "VirtualMachine.Inventory.Delete",
	"Destroy_Task/Folder":          "Folder.Delete",
	"Rename_Task/VirtualMachine":   "VirtualMachine.Config.Rename",
	"Rename_Task/Folder":           "Folder.Rename",
}

func guardedPrivileges() []string {
	var out []string
	for _, v := range guardedMethods {
		out = append(out, v)
	}
	return out
}

// guard enforces guardedMethods for the session behind the request's cookie.
func (p *policy) guard(r *http.Request, method string, this types.ManagedObjectReference, body []byte) (types.BaseMethodFault, string) {
	priv, ok := guardedMethods[method+"/"+this.Type]
	if !ok {
		if priv, ok = guardedMethods[method]; !ok {
			return nil, ""
		}
	}
	if method == "ReconfigVM_Task" {
		priv = reconfigPrivilege(body)
	}
	cookie, err := r.Cookie(soap.SessionCookieName)
	if err != nil {
		return nil, "" // no session: the simulator answers NotAuthenticated
	}
	session, ok := lookupSession(cookie.Value)
	if !ok || simulator.Map.Get(this) == nil {
		return nil, ""
	}
	if p.granted(session.UserName, this, priv) {
		return nil, ""
	}
	return noPermission(this, priv)
}

var sessionManagerRef = types.ManagedObjectReference{Type: "SessionManager", Value: "SessionManager"}

// lookupSession finds a live session by key. The simulator keeps sessions private; a throwaway
// Session's view of the SessionManager lists them.
func lookupSession(key string) (types.UserSession, bool) {
	view := &simulator.Session{Registry: simulator.NewRegistry()}
	sm, ok := view.Get(sessionManagerRef).(*simulator.SessionManager)
	if !ok || key == "" {
		return types.UserSession{}, false
	}
	for _, s := range sm.SessionList {
		if s.Key == key {
			return s, true
		}
	}
	return types.UserSession{}, false
}

// setExtensionPrivileges defines (or with add=false removes) an extension's privileges.
func (p *policy) setExtensionPrivileges(list []types.ExtensionPrivilegeInfo, add bool) {
	if len(list) == 0 {
		return
	}
	p.mu.Lock()
	for _, priv := range list {
		if add {
			p.addPrivilege(priv.PrivID)
		} else {
			p.removePrivilege(priv.PrivID)
		}
	}
	p.mu.Unlock()
	simulator.Map.WithLock(p.mgr, p.syncManager)
}

// reconfigPrivilege: vCenter checks a privilege per changed setting; a spec that only switches Changed Block
// Tracking needs VirtualMachine.Config.ChangeTracking, anything else the general Settings privilege.
func reconfigPrivilege(body []byte) string {
	req, err := simulator.UnmarshalBody(types.TypeFunc(), body)
	if err != nil {
		return "VirtualMachine.Config.Settings"
	}
	rc, ok := req.Body.(*types.ReconfigVM_Task)
	if !ok || rc.Spec.ChangeTrackingEnabled == nil {
		return "VirtualMachine.Config.Settings"
	}
	only := types.VirtualMachineConfigSpec{ChangeTrackingEnabled: rc.Spec.ChangeTrackingEnabled}
	if reflect.DeepEqual(rc.Spec, only) {
		return "VirtualMachine.Config.ChangeTracking"
	}
	return "VirtualMachine.Config.Settings"
}
