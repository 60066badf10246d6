//go:build tools

package tools

import (
	_ "github.com/apache/apisix-go-plugin-runner/pkg/runner"
	_ "github.com/api7/ext-plugin-proto/go/A6"
	_ "github.com/docker/docker/client"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/google/uuid"
	_ "github.com/nats-io/nats-server/v2/server"
	_ "github.com/nats-io/nats.go/jetstream"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "github.com/valyala/fasthttp"
	_ "go.uber.org/zap"
	_ "golang.org/x/crypto/bcrypt"
	_ "sigs.k8s.io/yaml"
)
