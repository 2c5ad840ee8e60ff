//go:build stspilot_update

package golden

// Update is true in a build with the stspilot_update tag: Check rewrites the
// files it compares (go generate runs the tests so).
const Update = true
