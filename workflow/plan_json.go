package workflow

import "encoding/json"

// MarshalJSON writes the plan with `steps` always an array: `[]` for a plan
// that has none (a refused plan, nothing to do), never null, as
// docs/json.md promises for the plan of stspilot.event/v2.
func (p Plan) MarshalJSON() ([]byte, error) {
	type plain Plan // the same fields without this method
	q := plain(p)
	if q.Steps == nil {
		q.Steps = []Step{}
	}
	return json.Marshal(q)
}
