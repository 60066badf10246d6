// Package apisix holds the APISIX 3.x configuration of the platform's gateway
// (config.yaml and the standalone routes file apisix.yaml) and its tests,
// which check both files offline against APISIX 3.0's schemas
// (testdata/schema-3.0.json). The subpackage apisixtest emulates APISIX for
// tests that drive the real plugin runner.
package apisix
