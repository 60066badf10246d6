package platform

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/config"
	"github.com/faasplatform/faas/plugin"
)

// RunPlugin is `faas plugin`: the APISIX plugin runner serving the same API
// handler as the standalone gateway, on NATS at NATS_URL (or NATS_LISTEN).
// APISIX starts it (ext-plugin.cmd) and stops it with SIGTERM.
func RunPlugin(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	core, rt, err := openCore(startCtx, cfg, clientURL(cfg), "faas-plugin", log)
	if err != nil {
		return fmt.Errorf("plugin: %w", err)
	}
	defer closeCore(core, rt, log)
	// Behind APISIX, the route's limit-count counts requests (per client
	// address, before the plugin runs); failed logins are still counted here.
	core.Deps.RateLimit = nil
	return plugin.Serve(core.Handler(), log.Named("plugin"), cfg.LogLevel.String())
}
