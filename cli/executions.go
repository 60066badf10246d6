package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/faasplatform/faas/client"
	"github.com/faasplatform/faas/wire"
)

// pollInterval is how often invoke (past the server's wait) and logs
// --follow read an execution that has not ended.
const pollInterval = time.Second

// readInput is --input: "-" reads standard input, "@file" a file, anything
// else is the value itself. Valid JSON goes as sent; anything else as a
// JSON string (the function reads its text).
func (a *app) readInput(v string) (json.RawMessage, error) {
	var data []byte
	switch {
	case v == "":
		return nil, nil
	case v == "-":
		b, err := io.ReadAll(a.env.Stdin)
		if err != nil {
			return nil, fmt.Errorf("read the input: %w", err)
		}
		data = b
	case strings.HasPrefix(v, "@"):
		b, err := os.ReadFile(v[1:])
		if err != nil {
			return nil, usagef("--input: %v", err)
		}
		data = b
	default:
		data = []byte(v)
	}
	if json.Valid(data) {
		return json.RawMessage(data), nil
	}
	s, _ := json.Marshal(string(data))
	return json.RawMessage(s), nil
}

// waitEnded polls execution id until it has ended.
func waitEnded(ctx context.Context, c *client.Client, e *wire.Execution) (*wire.Execution, error) {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for !e.Status.Final() {
		select {
		case <-ctx.Done():
			return e, ctx.Err()
		case <-t.C:
		}
		var err error
		if e, err = c.GetExecution(ctx, e.ID); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// report prints an ended execution: its output on stdout (or the JSON), and
// for anything but complete an error, so the exit status is 1.
func (a *app) report(e *wire.Execution) error {
	if a.jsonOut {
		if err := a.printJSON(e); err != nil {
			return err
		}
	} else if e.Output != "" {
		fmt.Fprint(a.env.Stdout, e.Output)
		if !strings.HasSuffix(e.Output, "\n") {
			fmt.Fprintln(a.env.Stdout)
		}
	}
	if e.Status != "complete" {
		msg := fmt.Sprintf("execution %s ended %s", e.ID, e.Status)
		if e.Error != "" {
			msg += ": " + e.Error
		}
		return fmt.Errorf("%s", msg)
	}
	return nil
}

func (a *app) invokeCmd() *cobra.Command {
	var async bool
	var input, key string
	cmd := &cobra.Command{
		Use:   "invoke NAME [--input VALUE|@FILE|-] [--async]",
		Short: "Run a function: wait and print its output, or --async print the execution id",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := a.readInput(input)
			if err != nil {
				return err
			}
			ctx, c, f, err := a.function(cmd, args[0])
			if err != nil {
				return err
			}
			inv, err := c.Invoke(ctx, f.ID, in, client.InvokeOptions{Wait: !async, IdempotencyKey: key})
			if err != nil {
				return err
			}
			if async {
				if a.jsonOut {
					return a.printJSON(inv.Execution)
				}
				fmt.Fprintln(a.env.Stdout, inv.Execution.ID)
				return nil
			}
			e, err := waitEnded(ctx, c, inv.Execution)
			if err != nil {
				return err
			}
			return a.report(e)
		},
	}
	cmd.Flags().BoolVar(&async, "async", false, "do not wait: print the execution id")
	cmd.Flags().StringVarP(&input, "input", "i", "", "the input: a value (JSON or text), @FILE, or - for standard input")
	cmd.Flags().StringVar(&key, "idempotency-key", "", "run at most once for this key (24 h)")
	return cmd
}

func (a *app) executionsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "executions", Aliases: []string{"ex"}, Short: "List, read and cancel executions"}
	var status, function, cursor string
	var limit int
	list := &cobra.Command{
		Use: "list", Short: "List executions, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			ctx := ctxOf(cmd)
			f := client.ExecutionFilter{Status: status, Limit: limit, Cursor: cursor}
			names := map[string]string{}
			if fs, err := c.ListFunctions(ctx); err == nil {
				for _, fn := range fs {
					names[fn.ID] = fn.Name
					if function != "" && (fn.Name == function || fn.ID == function) {
						f.FunctionID = fn.ID
					}
				}
			}
			if function != "" && f.FunctionID == "" {
				f.FunctionID = function
			}
			l, err := c.ListExecutions(ctx, f)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(l)
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tFUNCTION\tSTATUS\tDURATION\tAGE")
			for _, e := range l.Executions {
				fn := names[e.FunctionID]
				if fn == "" {
					fn = e.FunctionID
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%.3fs\t%s\n", e.ID, fn, e.Status, e.Duration, age(e.CreatedAt))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if l.Next != "" {
				fmt.Fprintf(a.env.Stderr, "more: faas executions list --cursor %s\n", l.Next)
			}
			return nil
		},
	}
	list.Flags().StringVar(&status, "status", "", "only this status (pending, running, complete, failed, cancelled, timeout)")
	list.Flags().StringVar(&function, "function", "", "only this function (name or id)")
	list.Flags().IntVar(&limit, "limit", 0, "at most this many (1-1000; default 100)")
	list.Flags().StringVar(&cursor, "cursor", "", "the page after the one that printed this cursor")
	get := &cobra.Command{
		Use: "get ID", Short: "Show one execution with its input and output", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			e, err := c.GetExecution(ctxOf(cmd), args[0])
			if err != nil {
				return err
			}
			return a.printJSON(e)
		},
	}
	cancel := &cobra.Command{
		Use: "cancel ID", Short: "Cancel a pending or running execution", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			e, err := c.CancelExecution(ctxOf(cmd), args[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(e)
			}
			fmt.Fprintf(a.env.Stdout, "execution %s %s\n", e.ID, e.Status)
			return nil
		},
	}
	cmd.AddCommand(list, get, cancel)
	return cmd
}

func (a *app) logsCmd() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs ID [--follow]",
		Short: "Print an execution's logs (its standard error); --follow waits for its end",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			ctx := ctxOf(cmd)
			if follow {
				e, err := c.GetExecution(ctx, args[0])
				if err != nil {
					return err
				}
				if _, err := waitEnded(ctx, c, e); err != nil {
					return err
				}
			}
			l, err := c.Logs(ctx, args[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(l)
			}
			fmt.Fprint(a.env.Stdout, l.Logs)
			if l.Truncated {
				fmt.Fprintln(a.env.Stderr, "(logs truncated at 1 MiB)")
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "wait until the execution ends")
	return cmd
}
