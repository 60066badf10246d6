package platform

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/config"
	"github.com/faasplatform/faas/gateway"
)

// RunGateway is `faas gateway`: the standalone gateway alone, on
// SERVER_ADDRESS, with the platform's state on NATS at NATS_URL (or where
// `faas up`'s embedded server listens, NATS_LISTEN). It is also the objects
// service of contract §3: APISIX proxies /api/function-objects/* to it
// (apisix/apisix.yaml's upstream "objects"), because the plugin runner
// cannot carry large bodies; the service checks every token itself. No
// worker and no autoscaler run here. It blocks until ctx ends, then lets
// requests in flight finish.
func RunGateway(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	url := clientURL(cfg)
	err := runOnCore(ctx, cfg, url, "faas-gateway", log, func(core *Core) error {
		gw := gateway.New(cfg.ServerAddress, core.Handler(), log.Named("gateway"))
		addr, err := gw.Start()
		if err != nil {
			return fmt.Errorf("SERVER_ADDRESS=%s: %w", cfg.ServerAddress, err)
		}
		log.Info("gateway and objects service up", zap.String("address", addr.String()), zap.String("nats", url))
		var runErr error
		select {
		case <-ctx.Done():
			log.Info("stopping")
		case err := <-gw.Done():
			runErr = fmt.Errorf("stopped serving: %w", err)
		}
		stopGateway(gw, log)
		return runErr
	})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}

// stopGateway shuts gw down within ShutdownTimeout, so that requests in
// flight (a ?wait=true, an object transfer) finish.
func stopGateway(gw *gateway.Server, log *zap.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := gw.Shutdown(ctx); err != nil {
		log.Warn("gateway shutdown", zap.Error(err))
	}
}
