package identity

import (
	"fmt"
	"strings"
)

// Role is what a principal is allowed to be. Each principal has exactly one.
type Role string

const (
	// RoleAdmin does everything, including managing users and tokens.
	RoleAdmin Role = "admin"
	// RoleAnalyst reads and works incidents, manages rules, sees personal data.
	RoleAnalyst Role = "analyst"
	// RoleViewer reads alerts, incidents and events, with personal data masked.
	RoleViewer Role = "viewer"
	// RoleAgent only sends events: the role of vigil-agent and log shippers.
	RoleAgent Role = "agent"
)

// Roles returns every role, most powerful first.
func Roles() []Role { return []Role{RoleAdmin, RoleAnalyst, RoleViewer, RoleAgent} }

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleAnalyst, RoleViewer, RoleAgent:
		return true
	}
	return false
}

// ParseRole parses a role name (case-insensitive); the error lists the
// valid roles.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		names := make([]string, 0, 4)
		for _, v := range Roles() {
			names = append(names, string(v))
		}
		return "", fmt.Errorf("unknown role %q (valid roles: %s)", s, strings.Join(names, ", "))
	}
	return r, nil
}

// Permission is one thing a caller may do.
type Permission string

const (
	// PermRead: read alerts, incidents and events, and follow the live stream.
	PermRead Permission = "read"
	// PermWorkIncidents: acknowledge, assign, annotate and close incidents.
	PermWorkIncidents Permission = "work_incidents"
	// PermManageRules: load, enable and disable detection rules.
	PermManageRules Permission = "manage_rules"
	// PermManageIdentity: create and remove users and API tokens.
	PermManageIdentity Permission = "manage_identity"
	// PermIngest: send events (POST /api/v1/events).
	PermIngest Permission = "ingest"
	// PermSeePersonalData: see citizen ids, phone numbers and e-mail
	// addresses unmasked (Decree 13/2023).
	PermSeePersonalData Permission = "see_personal_data"
)

// Permissions returns every permission, in the order of the table below.
func Permissions() []Permission {
	return []Permission{PermRead, PermWorkIncidents, PermManageRules, PermManageIdentity, PermIngest, PermSeePersonalData}
}

// permissions is the permission table:
//
//	permission          admin analyst viewer agent
//	read                  ✓     ✓       ✓
//	work_incidents        ✓     ✓
//	manage_rules          ✓     ✓
//	manage_identity       ✓
//	ingest                ✓                    ✓
//	see_personal_data     ✓     ✓
//
// An analyst does not ingest: events come from agents and collectors, and a
// token that can forge evidence should not be an analyst's everyday one.
var permissions = map[Role]map[Permission]bool{
	RoleAdmin: {PermRead: true, PermWorkIncidents: true, PermManageRules: true, PermManageIdentity: true,
		PermIngest: true, PermSeePersonalData: true},
	RoleAnalyst: {PermRead: true, PermWorkIncidents: true, PermManageRules: true, PermSeePersonalData: true},
	RoleViewer:  {PermRead: true},
	RoleAgent:   {PermIngest: true},
}

// Can reports whether role may do perm. Unknown roles may do nothing.
func Can(role Role, perm Permission) bool { return permissions[role][perm] }
