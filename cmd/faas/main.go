// Command faas is the platform in one binary. Server commands: `faas up`
// runs everything on one machine, `faas gateway` the standalone gateway and
// objects service alone, `faas worker` one worker process, `faas
// autoscaler` the autoscaler, `faas plugin` the APISIX plugin runner; they
// read the server's configuration from the environment (contract §2). The
// client commands (login, fn, invoke, executions, logs, objects, workers,
// deadletters; package cli) read none of it: commands are dispatched before
// any server configuration is loaded.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"golang.org/x/term"

	"github.com/faasplatform/faas/cli"
	"github.com/faasplatform/faas/config"
	"github.com/faasplatform/faas/platform"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	root := &cobra.Command{
		Use:           "faas",
		Short:         "faas runs and drives a Function-as-a-Service platform",
		Long:          "faas runs the platform (up, gateway, worker, autoscaler, plugin: settings from the environment, see README.md)\nand drives it (login, fn, invoke, executions, logs, objects, workers, deadletters).",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_ = cmd.Help()
			return cli.UsageError(fmt.Errorf("a command is needed"))
		},
	}
	root.AddGroup(&cobra.Group{ID: "server", Title: "Server commands (settings from the environment):"},
		&cobra.Group{ID: "client", Title: "Client commands:"})
	root.AddCommand(
		server("up", "Run the whole platform: embedded NATS (unless NATS_URL), gateway on SERVER_ADDRESS, autoscaled workers",
			func(ctx context.Context, cfg config.Config, log *zap.Logger) error {
				return platform.NewUp(cfg, log, os.Stdout).Run(ctx)
			}),
		server("gateway", "Run the standalone gateway and objects service alone on SERVER_ADDRESS (NATS_URL or NATS_LISTEN)", platform.RunGateway),
		server("worker", "Run one worker process (NATS_URL, MAX_CONCURRENT_EXECUTIONS, WORKER_ADDRESS)", platform.RunWorker),
		server("autoscaler", "Start and retire workers on the backlog (AUTOSCALER_BACKEND, MIN_WORKERS, MAX_WORKERS, ...)",
			func(ctx context.Context, cfg config.Config, log *zap.Logger) error {
				return platform.NewAutoscaler(cfg, log).Run(ctx)
			}),
		server("plugin", "Run the APISIX plugin runner (started by APISIX through ext-plugin.cmd)",
			func(_ context.Context, cfg config.Config, log *zap.Logger) error {
				stop() // the plugin runner handles SIGINT/SIGTERM itself
				return platform.RunPlugin(context.Background(), cfg, log)
			}),
	)
	cli.AddCommands(root, cli.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv,
		IsTerminal: term.IsTerminal, ReadPassword: term.ReadPassword,
	}, "client")
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "faas:", err)
	}
	os.Exit(cli.ExitCode(err))
}

// server is a server command: it loads the configuration (a bad value is
// bad usage, exit 2), builds the logger and runs.
func server(name, short string, run func(context.Context, config.Config, *zap.Logger) error) *cobra.Command {
	return &cobra.Command{
		Use:     name,
		Short:   short,
		GroupID: "server",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(os.Getenv)
			if err != nil {
				return cli.UsageError(err)
			}
			log, err := platform.NewLogger(cfg.LogLevel, cfg.LogFormat)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			if err := run(cmd.Context(), cfg, log); err != nil {
				log.Error("faas "+name+" failed", zap.Error(err))
				return err
			}
			return nil
		},
	}
}
