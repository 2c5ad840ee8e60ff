package dnsprovider

import "strings"

// SettingStatus is whether and where one setting of a provider is set.
type SettingStatus struct {
	Setting
	// From is the variable that gave the value: Env, an alias, or one of
	// them + "_FILE"; empty when the setting is not set.
	From string
	// Err says why the setting cannot be used as it is: two of its
	// variables hold different values, its NAME_FILE is refused, or the
	// provider's own rule refuses it (route53's key ID without its
	// secret). It names variables, never a value.
	Err error
}

// Status is whether a provider is configured, judged from which of its
// settings are set (as Open reads them), never from their values.
type Status struct {
	// Settings are the provider's, in the order of Info.Settings.
	Settings []SettingStatus
	// Configured: every required setting is set and none is refused;
	// then the provider's own rule, if it has one, decides (route53: a key
	// ID with its secret, a profile, or credentials of the AWS chain in
	// the environment); without one, a provider whose settings are all
	// optional needs at least one of them set.
	Configured bool
	// By lists the variables of the environment, not settings of the
	// provider, that make it configured (route53: AWS_PROFILE, which the
	// library's own credential chain reads); empty when its settings do.
	By []string
}

// readiness is a provider's own rule for being configured, for a provider
// whose settings do not say it on their own. set reports whether the
// setting called name has a value; environ is the process environment
// alone (what the provider's library reads by itself). It returns whether
// the provider is configured, the variables of environ that make it so
// when its settings do not, and errors for settings that are set but
// cannot be used as they are, keyed by Setting.Name.
type readiness func(set func(name string) bool, environ Source) (ok bool, by []string, refused map[string]error)

// CheckStatus reads info's settings from src as Open does and says whether
// the provider is configured (see Status). environ is the process
// environment alone, for a provider whose library reads credentials of
// its own from it (route53); nil stands for an empty one.
func CheckStatus(info Info, src, environ Source) Status {
	st := Status{Configured: true}
	anyRequired, anySet := false, false
	for _, s := range info.Settings {
		ss := SettingStatus{Setting: s}
		_, ss.From, ss.Err = LookupSetting(s, src)
		if ss.Err != nil {
			st.Configured = false
		}
		anySet = anySet || ss.From != ""
		anyRequired = anyRequired || s.Required
		if s.Required && ss.From == "" {
			st.Configured = false
		}
		st.Settings = append(st.Settings, ss)
	}
	if info.ready == nil {
		if !anyRequired && len(info.Settings) > 0 && !anySet {
			st.Configured = false
		}
		return st
	}
	if environ == nil {
		environ = EnvSource(func(string) (string, bool) { return "", false })
	}
	set := func(name string) bool {
		for _, ss := range st.Settings {
			if ss.Name == name {
				return ss.From != ""
			}
		}
		return false
	}
	ok, by, refused := info.ready(set, environ)
	for i, ss := range st.Settings {
		if err := refused[ss.Name]; err != nil && ss.Err == nil {
			st.Settings[i].Err = err
		}
	}
	st.Configured = st.Configured && ok && len(refused) == 0
	if st.Configured {
		st.By = by
	}
	return st
}

// environHas reports whether every one of vars has a non-blank value in
// environ.
func environHas(environ Source, vars ...string) bool {
	for _, v := range vars {
		if val, ok := environ.Lookup(v); !ok || strings.TrimSpace(val) == "" {
			return false
		}
	}
	return true
}
