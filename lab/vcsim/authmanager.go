package main

// The lab's AuthorizationManager: the vim25 methods that read and change roles and permissions, answered from the
// policy (auth.go) so that the PropertyCollector, the gate and these calls all see the same roles.

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// authManager replaces the simulator's AuthorizationManager (embedded by value so property retrieval works).
type authManager struct {
	simulator.AuthorizationManager
	policy *policy
}

var _ mo.Reference = (*authManager)(nil)

// HasPrivilegeOnEntityResponse keeps the vim25 name; without omitempty every false answer is encoded
// (govmomi's type drops false elements from the positional []bool).
type HasPrivilegeOnEntityResponse struct {
	Returnval []bool `xml:"returnval"`
}

type hasPrivilegeOnEntityBody struct {
	Res    *HasPrivilegeOnEntityResponse `xml:"HasPrivilegeOnEntityResponse,omitempty"`
	Fault_ *soap.Fault                   `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault,omitempty"`
}

func (b *hasPrivilegeOnEntityBody) Fault() *soap.Fault { return b.Fault_ }

func (m *authManager) sessionUser(id string) (string, bool) {
	s, ok := lookupSession(id)
	return s.UserName, ok
}

func (m *authManager) answer(user string, known bool, entities []types.ManagedObjectReference, privIds []string) []types.EntityPrivilege {
	out := make([]types.EntityPrivilege, 0, len(entities))
	for _, e := range entities {
		ep := types.EntityPrivilege{Entity: e}
		for _, id := range privIds {
			ep.PrivAvailability = append(ep.PrivAvailability, types.PrivilegeAvailability{
				PrivId: id, IsGranted: known && m.policy.granted(user, e, id),
			})
		}
		out = append(out, ep)
	}
	return out
}

func (m *authManager) HasPrivilegeOnEntity(req *types.HasPrivilegeOnEntity) soap.HasFault {
	user, known := m.sessionUser(req.SessionId)
	res := &HasPrivilegeOnEntityResponse{Returnval: make([]bool, len(req.PrivId))}
	for i, id := range req.PrivId {
		res.Returnval[i] = known && m.policy.granted(user, req.Entity, id)
	}
	return &hasPrivilegeOnEntityBody{Res: res}
}

func (m *authManager) HasPrivilegeOnEntities(req *types.HasPrivilegeOnEntities) soap.HasFault {
	user, known := m.sessionUser(req.SessionId)
	return &methods.HasPrivilegeOnEntitiesBody{Res: &types.HasPrivilegeOnEntitiesResponse{
		Returnval: m.answer(user, known, req.Entity, req.PrivId),
	}}
}

func (m *authManager) HasUserPrivilegeOnEntities(req *types.HasUserPrivilegeOnEntities) soap.HasFault {
	return &methods.HasUserPrivilegeOnEntitiesBody{Res: &types.HasUserPrivilegeOnEntitiesResponse{
		Returnval: m.answer(req.UserName, true, req.Entities, req.PrivId),
	}}
}

func (m *authManager) FetchUserPrivilegeOnEntities(req *types.FetchUserPrivilegeOnEntities) soap.HasFault {
	var out []types.UserPrivilegeResult
	for _, e := range req.Entities {
		out = append(out, types.UserPrivilegeResult{Entity: e, Privileges: m.policy.privilegesOf(req.UserName, e)})
	}
	return &methods.FetchUserPrivilegeOnEntitiesBody{Res: &types.FetchUserPrivilegeOnEntitiesResponse{Returnval: out}}
}

func (m *authManager) AddAuthorizationRole(ctx *simulator.Context, req *types.AddAuthorizationRole) soap.HasFault {
	body := &methods.AddAuthorizationRoleBody{}
	if f := m.policy.check(ctx, m.policy.root, "Authorization.ModifyRoles"); f != nil {
		body.Fault_ = f
		return body
	}
	m.policy.mu.Lock()
	id, err := m.policy.addRole(req.Name, req.PrivIds)
	m.policy.mu.Unlock()
	if err != nil {
		body.Fault_ = soapFault(err.message, err.fault)
		return body
	}
	m.policy.syncManager()
	body.Res = &types.AddAuthorizationRoleResponse{Returnval: id}
	return body
}

// customRole is the role an update or removal changes: it must exist and not be a system role (`refused` says why).
func (p *policy) customRole(id int32, refused string) (*types.AuthorizationRole, *soap.Fault) {
	role, ok := p.roleByID(id)
	if !ok {
		return nil, soapFault(fmt.Sprintf("role %d does not exist", id), &types.NotFound{})
	}
	if role.System {
		return nil, soapFault(fmt.Sprintf("system role %s %s", role.Name, refused), &types.InvalidArgument{InvalidProperty: "roleId"})
	}
	return role, nil
}

func (m *authManager) UpdateAuthorizationRole(ctx *simulator.Context, req *types.UpdateAuthorizationRole) soap.HasFault {
	body := &methods.UpdateAuthorizationRoleBody{}
	if f := m.policy.check(ctx, m.policy.root, "Authorization.ModifyRoles"); f != nil {
		body.Fault_ = f
		return body
	}
	p := m.policy
	p.mu.Lock()
	fault := func() *soap.Fault {
		role, f := p.customRole(req.RoleId, "cannot be modified; create a custom role instead")
		if f != nil {
			return f
		}
		if other, exists := p.roleByName(req.NewName); exists && other.RoleId != req.RoleId {
			return soapFault(fmt.Sprintf("a role named %q already exists", req.NewName), &types.AlreadyExists{Name: req.NewName})
		}
		if len(req.PrivIds) > 0 {
			ids, err := p.rolePrivileges(req.PrivIds)
			if err != nil {
				return soapFault(err.message, err.fault)
			}
			role.Privilege = ids
		}
		if req.NewName != "" {
			role.Name = req.NewName
			role.Info = &types.Description{Label: req.NewName, Summary: req.NewName}
		}
		return nil
	}()
	p.mu.Unlock()
	if fault != nil {
		body.Fault_ = fault
		return body
	}
	p.syncManager()
	body.Res = &types.UpdateAuthorizationRoleResponse{}
	return body
}

func (m *authManager) RemoveAuthorizationRole(ctx *simulator.Context, req *types.RemoveAuthorizationRole) soap.HasFault {
	body := &methods.RemoveAuthorizationRoleBody{}
	if f := m.policy.check(ctx, m.policy.root, "Authorization.ModifyRoles"); f != nil {
		body.Fault_ = f
		return body
	}
	p := m.policy
	p.mu.Lock()
	fault := func() *soap.Fault {
		role, f := p.customRole(req.RoleId, "cannot be removed")
		if f != nil {
			return f
		}
		for ref, list := range p.perms {
			kept := list[:0]
			for _, perm := range list {
				if perm.RoleId == req.RoleId {
					if req.FailIfUsed {
						return soapFault(fmt.Sprintf("role %s is used by permissions; remove them first", role.Name), &types.RemoveFailed{})
					}
					continue
				}
				kept = append(kept, perm)
			}
			if !req.FailIfUsed {
				p.perms[ref] = kept
			}
		}
		for i := range p.roles {
			if p.roles[i].RoleId == req.RoleId {
				p.roles = append(p.roles[:i], p.roles[i+1:]...)
				break
			}
		}
		return nil
	}()
	p.mu.Unlock()
	if fault != nil {
		body.Fault_ = fault
		return body
	}
	p.syncManager()
	body.Res = &types.RemoveAuthorizationRoleResponse{}
	return body
}

func (m *authManager) SetEntityPermissions(ctx *simulator.Context, req *types.SetEntityPermissions) soap.HasFault {
	body := &methods.SetEntityPermissionsBody{}
	if f := m.policy.check(ctx, req.Entity, "Authorization.ModifyPermissions"); f != nil {
		body.Fault_ = f
		return body
	}
	p := m.policy
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, perm := range req.Permission {
		if _, ok := p.roleByID(perm.RoleId); !ok {
			body.Fault_ = soapFault(fmt.Sprintf("role %d does not exist", perm.RoleId), &types.NotFound{})
			return body
		}
	}
	for _, perm := range req.Permission {
		entity := req.Entity
		perm.Entity = &entity
		p.setPermission(perm)
	}
	body.Res = &types.SetEntityPermissionsResponse{}
	return body
}

func (m *authManager) ResetEntityPermissions(ctx *simulator.Context, req *types.ResetEntityPermissions) soap.HasFault {
	body := &methods.ResetEntityPermissionsBody{}
	if f := m.policy.check(ctx, req.Entity, "Authorization.ModifyPermissions"); f != nil {
		body.Fault_ = f
		return body
	}
	p := m.policy
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.perms, req.Entity)
	for _, perm := range req.Permission {
		entity := req.Entity
		perm.Entity = &entity
		p.setPermission(perm)
	}
	body.Res = &types.ResetEntityPermissionsResponse{}
	return body
}

func (m *authManager) RemoveEntityPermission(ctx *simulator.Context, req *types.RemoveEntityPermission) soap.HasFault {
	body := &methods.RemoveEntityPermissionBody{}
	if f := m.policy.check(ctx, req.Entity, "Authorization.ModifyPermissions"); f != nil {
		body.Fault_ = f
		return body
	}
	p := m.policy
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.perms[req.Entity]
	for i := range list {
		if strings.EqualFold(list[i].Principal, req.User) && list[i].Group == req.IsGroup {
			p.perms[req.Entity] = append(list[:i], list[i+1:]...)
			body.Res = &types.RemoveEntityPermissionResponse{}
			return body
		}
	}
	body.Fault_ = soapFault(fmt.Sprintf("%s has no permission on %s", req.User, req.Entity), &types.NotFound{})
	return body
}

func (m *authManager) RetrieveEntityPermissions(req *types.RetrieveEntityPermissions) soap.HasFault {
	p := m.policy
	p.mu.RLock()
	defer p.mu.RUnlock()
	out := append([]types.Permission(nil), p.perms[req.Entity]...)
	if req.Inherited {
		for cur := entityParent(req.Entity); cur != nil; cur = entityParent(*cur) {
			for _, perm := range p.perms[*cur] {
				if perm.Propagate {
					out = append(out, perm)
				}
			}
		}
	}
	return &methods.RetrieveEntityPermissionsBody{Res: &types.RetrieveEntityPermissionsResponse{Returnval: out}}
}

func (m *authManager) RetrieveAllPermissions(req *types.RetrieveAllPermissions) soap.HasFault {
	p := m.policy
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []types.Permission
	for _, list := range p.perms {
		out = append(out, list...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Entity.Value != out[j].Entity.Value {
			return out[i].Entity.Value < out[j].Entity.Value
		}
		return out[i].Principal < out[j].Principal
	})
	return &methods.RetrieveAllPermissionsBody{Res: &types.RetrieveAllPermissionsResponse{Returnval: out}}
}

func (m *authManager) RetrieveRolePermissions(req *types.RetrieveRolePermissions) soap.HasFault {
	p := m.policy
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []types.Permission
	for _, list := range p.perms {
		for _, perm := range list {
			if perm.RoleId == req.RoleId {
				out = append(out, perm)
			}
		}
	}
	return &methods.RetrieveRolePermissionsBody{Res: &types.RetrieveRolePermissionsResponse{Returnval: out}}
}
