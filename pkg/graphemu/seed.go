package graphemu

import "time"

// Seed configurations. Ids follow the observed `{guid}_{kind}` form.
const (
	// ConfigESP is an Autopilot enrollment status page (priority 1) with a
	// group include (GroupCorporate) and a group exclusion (GroupExcluded).
	ConfigESP = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration"
	// ConfigLimit is the tenant default device limit (15 devices, priority 0)
	// assigned to all licensed users.
	ConfigLimit = "3c6c7a5f-2222-4d7f-8b4c-2a3e4d5c6b7a_DefaultLimit"
	// ConfigPlatform is a platform restriction (priority 2) assigned to
	// GroupPlatform through FilterCorporate in include mode.
	ConfigPlatform = "4d7d8b60-3333-4e80-9c5d-3b4f5e6d7c8b_PlatformRestrictions"
)

// Seed groups and assignment filter.
const (
	GroupCorporate  = "5e6f0000-0000-0000-0000-000000000001"
	GroupExcluded   = "7a8b0000-0000-0000-0000-000000000002"
	GroupPlatform   = "9c0d0000-0000-0000-0000-000000000003"
	FilterCorporate = "a1b2c3d4-0000-0000-0000-00000000f117"
)

// Seed assignments.
const (
	// AssignmentESPGroup targets GroupCorporate with filter type none.
	AssignmentESPGroup = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_" + GroupCorporate
	// AssignmentESPExclusion excludes GroupExcluded.
	AssignmentESPExclusion = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_" + GroupExcluded
	// AssignmentLimitAllUsers targets all licensed users; its suffix is the
	// well-known Intune "all licensed users" id.
	AssignmentLimitAllUsers = "3c6c7a5f-2222-4d7f-8b4c-2a3e4d5c6b7a_acacacac-9df4-4c7d-9d50-4ef0226f57a9"
	// AssignmentPlatformGroup targets GroupPlatform through FilterCorporate
	// (include).
	AssignmentPlatformGroup = "4d7d8b60-3333-4e80-9c5d-3b4f5e6d7c8b_" + GroupPlatform
)

func seedTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic("graphemu: bad seed time " + s)
	}
	return t
}

// restriction renders a deviceEnrollmentPlatformRestriction; beta adds the
// blocked manufacturer and SKU lists.
func restriction(blocked, personalBlocked bool, minVersion string, beta bool) map[string]any {
	r := map[string]any{
		"platformBlocked":                 blocked,
		"personalDeviceEnrollmentBlocked": personalBlocked,
		"osMinimumVersion":                nullable(minVersion),
		"osMaximumVersion":                nil,
	}
	if beta {
		r["blockedManufacturers"] = []string{}
		r["blockedSkus"] = []string{}
	}
	return r
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func strPtr(s string) *string { return &s }

// seed builds a fresh copy of the seed data; nothing in it is shared with an
// earlier copy, so Reset cannot be undone by a caller holding old state.
func seed() []*config {
	esp := &config{
		id:          ConfigESP,
		odataType:   "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration",
		displayName: "Autopilot ESP - Corporate",
		description: "Enrollment status page for corporate Autopilot devices",
		priority:    1,
		version:     3,
		created:     seedTime("2025-03-14T09:26:53.5897932Z"),
		modified:    seedTime("2026-10-02T14:05:11.1234567Z"),
		props: map[string]any{
			"allowNonBlockingAppInstallation": false,
		},
		betaProps: map[string]any{
			"roleScopeTagIds":                         []string{"0"},
			"deviceEnrollmentConfigurationType":       "windows10EnrollmentCompletionPageConfiguration",
			"showInstallationProgress":                true,
			"blockDeviceSetupRetryByUser":             false,
			"allowDeviceResetOnInstallFailure":        true,
			"allowLogCollectionOnInstallFailure":      true,
			"customErrorMessage":                      "Setup could not finish. Contact the service desk.",
			"installProgressTimeoutInMinutes":         60,
			"allowDeviceUseOnInstallFailure":          false,
			"selectedMobileAppIds":                    []string{},
			"trackInstallProgressForAutopilotOnly":    true,
			"disableUserStatusTrackingAfterFirstUser": true,
			"installQualityUpdates":                   false,
		},
	}
	esp.assignments = []*assignment{
		{id: AssignmentESPGroup, source: sourceDirect, target: target{
			typ: typeGroup, filterType: filterNone, groupID: GroupCorporate,
		}},
		{id: AssignmentESPExclusion, source: sourceDirect, target: target{
			typ: typeExclusion, filterType: filterNone, groupID: GroupExcluded,
		}},
	}

	limit := &config{
		id:          ConfigLimit,
		odataType:   "#microsoft.graph.deviceEnrollmentLimitConfiguration",
		displayName: "All users and all devices",
		description: "This is the default Device Limit Restriction applied with the lowest priority to all users regardless of group membership.",
		priority:    0,
		version:     1,
		created:     seedTime("2024-11-20T16:41:07.0000000Z"),
		modified:    seedTime("2024-11-20T16:41:07.0000000Z"),
		props:       map[string]any{"limit": 15},
		betaProps: map[string]any{
			"roleScopeTagIds":                   []string{"0"},
			"deviceEnrollmentConfigurationType": "limit",
		},
	}
	limit.assignments = []*assignment{
		{id: AssignmentLimitAllUsers, source: sourceDirect, target: target{
			typ: typeAllLicensed, filterType: filterNone,
		}},
	}

	platform := &config{
		id:          ConfigPlatform,
		odataType:   "#microsoft.graph.deviceEnrollmentPlatformRestrictionsConfiguration",
		displayName: "Corporate platform restrictions",
		description: "Blocks personally owned Android and iOS devices",
		priority:    2,
		version:     2,
		created:     seedTime("2025-06-30T08:00:00.0000000Z"),
		modified:    seedTime("2026-09-18T12:30:45.5000000Z"),
		props: map[string]any{
			"iosRestriction":           restriction(false, true, "17.0", false),
			"androidRestriction":       restriction(false, true, "13.0", false),
			"macOSRestriction":         restriction(false, false, "", false),
			"windowsRestriction":       restriction(false, false, "10.0.19045", false),
			"windowsMobileRestriction": restriction(true, true, "", false),
		},
		betaProps: map[string]any{
			"roleScopeTagIds":                   []string{"0"},
			"deviceEnrollmentConfigurationType": "platformRestrictions",
			"iosRestriction":                    restriction(false, true, "17.0", true),
			"androidRestriction":                restriction(false, true, "13.0", true),
			"macOSRestriction":                  restriction(false, false, "", true),
			"windowsRestriction":                restriction(false, false, "10.0.19045", true),
			"windowsMobileRestriction":          restriction(true, true, "", true),
			"androidForWorkRestriction":         restriction(false, false, "", true),
			"macRestriction":                    restriction(true, true, "", true),
			"tvosRestriction":                   restriction(true, true, "", true),
			"visionOSRestriction":               restriction(true, true, "", true),
			"windowsHomeSkuRestriction":         restriction(true, true, "", true),
		},
	}
	platform.assignments = []*assignment{
		{id: AssignmentPlatformGroup, source: sourceDirect, target: target{
			typ: typeGroup, filterID: strPtr(FilterCorporate), filterType: filterInclude, groupID: GroupPlatform,
		}},
	}

	return []*config{esp, limit, platform}
}
