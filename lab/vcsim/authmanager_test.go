package main

import (
	"strings"
	"testing"

	"github.com/vmware/govmomi/vim25/types"
)

// Updating or removing a role: an unknown id is NotFound, a system role is refused saying why, a custom role is given.
func TestCustomRole(t *testing.T) {
	p := &policy{roles: []types.AuthorizationRole{
		{RoleId: adminRoleID, Name: "Admin", System: true},
		{RoleId: firstCustomID, Name: "Migrator"},
	}}
	if role, f := p.customRole(firstCustomID, "cannot be removed"); f != nil || role.Name != "Migrator" {
		t.Fatalf("custom role: %v, %v", role, f)
	}
	_, f := p.customRole(adminRoleID, "cannot be removed")
	if f == nil || !strings.Contains(f.String, "system role Admin cannot be removed") {
		t.Fatalf("system role: %v", f)
	}
	if _, ok := f.Detail.Fault.(*types.InvalidArgument); !ok {
		t.Fatalf("system role fault %T, want InvalidArgument", f.Detail.Fault)
	}
	_, f = p.customRole(42, "cannot be modified")
	if f == nil || f.String != "role 42 does not exist" {
		t.Fatalf("unknown role: %v", f)
	}
	if _, ok := f.Detail.Fault.(*types.NotFound); !ok {
		t.Fatalf("unknown role fault %T, want NotFound", f.Detail.Fault)
	}
}
