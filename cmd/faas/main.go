// Command faas is the platform in one binary: `faas up` runs everything on
// one machine, `faas gateway` the standalone gateway and objects service,
// `faas worker` one worker process, `faas autoscaler` the
// autoscaler, `faas plugin` the APISIX plugin runner. Configuration comes
// from the environment (contract §2).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/faasplatform/faas/config"
	"github.com/faasplatform/faas/platform"
)

const usage = `usage: faas <command>

commands:
  up          run the whole platform: embedded NATS (unless NATS_URL), gateway on SERVER_ADDRESS, autoscaled workers
  gateway     run the standalone gateway and objects service alone on SERVER_ADDRESS (NATS_URL or NATS_LISTEN)
  worker      run one worker process (NATS_URL, MAX_CONCURRENT_EXECUTIONS, WORKER_ADDRESS)
  autoscaler  start and retire workers on the backlog (AUTOSCALER_BACKEND=process|docker, MIN_WORKERS, MAX_WORKERS, ...)
  plugin      run the APISIX plugin runner (started by APISIX through ext-plugin.cmd)

configuration: environment variables, see README.md`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faas:", err)
		os.Exit(2)
	}
	log, err := platform.NewLogger(cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faas:", err)
		os.Exit(1)
	}
	defer func() { _ = log.Sync() }()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	switch os.Args[1] {
	case "up":
		err = platform.NewUp(cfg, log, os.Stdout).Run(ctx)
	case "gateway":
		err = platform.RunGateway(ctx, cfg, log)
	case "worker":
		err = platform.RunWorker(ctx, cfg, log)
	case "autoscaler":
		err = platform.NewAutoscaler(cfg, log).Run(ctx)
	case "plugin":
		stop() // the plugin runner handles SIGINT/SIGTERM itself
		err = platform.RunPlugin(context.Background(), cfg, log)
	case "help", "-h", "--help":
		fmt.Println(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "faas: unknown command %q\n\n%s\n", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		log.Error("faas "+os.Args[1]+" failed", zap.Error(err))
		fmt.Fprintln(os.Stderr, "faas:", err)
		os.Exit(1)
	}
}
