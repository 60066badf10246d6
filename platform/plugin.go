package platform

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/config"
	"github.com/faasplatform/faas/plugin"
)

// RunPlugin is `faas plugin`: the APISIX plugin runner serving the same API
// handler as the standalone gateway, on NATS at NATS_URL (or NATS_LISTEN).
// APISIX starts it (ext-plugin.cmd) and stops it with SIGTERM.
func RunPlugin(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	err := runOnCore(ctx, cfg, clientURL(cfg), "faas-plugin", log, func(core *Core) error {
		// Behind APISIX, the route's limit-count counts requests (per client
		// address, before the plugin runs); failed logins are still counted here.
		core.Deps.RateLimit = nil
		return plugin.Serve(core.Handler(), log.Named("plugin"), cfg.LogLevel.String())
	})
	if err != nil {
		return fmt.Errorf("plugin: %w", err)
	}
	return nil
}
