package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func (a *app) workersCmd() *cobra.Command {
	return &cobra.Command{
		Use: "workers", Short: "Show the workers, the backlog and the autoscaler", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			w, err := c.Workers(ctxOf(cmd))
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(w)
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tACTIVE\tMAX\tLAST HEARTBEAT")
			for _, x := range w.Workers {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s ago\n", x.ID, x.Status, x.ActiveExecutions, x.MaxConcurrent, age(x.LastHeartbeat))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "pending jobs: %d\n", w.Pending)
			if w.Autoscaler != nil {
				fmt.Fprintf(a.env.Stdout, "autoscaler: desired %d", w.Autoscaler.Desired)
				if ls := w.Autoscaler.LastScale; ls != nil {
					fmt.Fprintf(a.env.Stdout, ", last change %d → %d %s ago (%s)", ls.From, ls.To, age(ls.At), ls.Reason)
				}
				fmt.Fprintln(a.env.Stdout)
			}
			return nil
		},
	}
}

func (a *app) deadlettersCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "deadletters", Aliases: []string{"dl"}, Short: "List, redrive and discard executions that used up their attempts"}
	list := &cobra.Command{
		Use: "list", Short: "List dead letters, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			dls, err := c.ListDeadLetters(ctxOf(cmd))
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(map[string]any{"dead_letters": dls})
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "EXECUTION\tFUNCTION\tATTEMPTS\tDEAD\tERROR")
			for _, d := range dls {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", d.ExecutionID, d.FunctionID, d.Attempts, age(d.DeadAt), d.Error)
			}
			return tw.Flush()
		},
	}
	redrive := &cobra.Command{
		Use: "redrive EXECUTION", Short: "Run a dead letter's function again with its input", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			e, err := c.Redrive(ctxOf(cmd), args[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(e)
			}
			fmt.Fprintln(a.env.Stdout, e.ID)
			return nil
		},
	}
	del := &cobra.Command{
		Use: "delete EXECUTION", Short: "Discard a dead letter", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			if err := c.DiscardDeadLetter(ctxOf(cmd), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "discarded %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(list, redrive, del)
	return cmd
}
