package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/faasplatform/faas/client"
	"github.com/faasplatform/faas/wire"
)

// functionFlags are the flags of fn create and fn update.
type functionFlags struct {
	file, image, description, network string
	timeout, memory, maxRetries       int
	cpus                              float64
	env                               []string
	warm                              bool
}

func (f *functionFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "read the function from a YAML or JSON file (flags override it)")
	fl.StringVar(&f.image, "image", "", "the function's image (e.g. faas-examples/echo:latest)")
	fl.StringVar(&f.description, "description", "", "a description")
	fl.StringVar(&f.network, "network", "", `"none" (default) or "internal" (reaches its objects)`)
	fl.IntVar(&f.timeout, "timeout", 0, "timeout in seconds (1-300)")
	fl.IntVar(&f.memory, "memory", 0, "memory in MiB")
	fl.Float64Var(&f.cpus, "cpus", 0, "CPUs")
	fl.IntVar(&f.maxRetries, "max-retries", 0, "retries of the function's own failures (0-5)")
	fl.StringArrayVar(&f.env, "env", nil, "an environment variable KEY=VALUE (repeatable)")
	fl.BoolVar(&f.warm, "warm", true, "let executions share a warm container")
}

// request builds the body from the file and the flags that were set.
func (f *functionFlags) request(cmd *cobra.Command, name string) (wire.FunctionRequest, error) {
	var req wire.FunctionRequest
	if f.file != "" {
		data, err := os.ReadFile(f.file)
		if err != nil {
			return req, usagef("read %s: %v", f.file, err)
		}
		if err := yaml.UnmarshalStrict(data, &req); err != nil {
			return req, usagef("%s: %v", f.file, err)
		}
	}
	set := cmd.Flags().Changed
	if name != "" {
		req.Name = &name
	}
	if set("image") {
		req.ImageURL = &f.image
	}
	if set("description") {
		req.Description = &f.description
	}
	if set("network") {
		req.Network = &f.network
	}
	if set("timeout") {
		req.Timeout = &f.timeout
	}
	if set("memory") {
		req.MemoryMB = &f.memory
	}
	if set("cpus") {
		req.CPUs = &f.cpus
	}
	if set("max-retries") {
		req.MaxRetries = &f.maxRetries
	}
	if set("warm") {
		req.Warm = &f.warm
	}
	if len(f.env) > 0 {
		if req.Env == nil {
			req.Env = map[string]string{}
		}
		for _, kv := range f.env {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return req, usagef("--env %q is not KEY=VALUE", kv)
			}
			req.Env[k] = v
		}
	}
	return req, nil
}

// findFunction resolves a function by id or by name.
func findFunction(ctx context.Context, c *client.Client, ref string) (*wire.Function, error) {
	fs, err := c.ListFunctions(ctx)
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		if f.ID == ref || f.Name == ref {
			return f, nil
		}
	}
	return nil, &client.Error{Status: 404, Code: wire.CodeFunctionNotFound, Message: fmt.Sprintf("no function named %q", ref)}
}

func (a *app) printFunctions(fs []*wire.Function) error {
	if a.jsonOut {
		return a.printJSON(wire.FunctionList{Functions: fs})
	}
	tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tIMAGE\tTIMEOUT\tMEMORY\tNETWORK\tUPDATED")
	for _, f := range fs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%ds\t%dMiB\t%s\t%s\n", f.Name, f.ID, f.ImageURL, f.Timeout, f.MemoryMB, f.Network, age(f.UpdatedAt))
	}
	return tw.Flush()
}

func (a *app) fnCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "fn", Short: "Create, list, read, change and delete functions"}
	var create functionFlags
	createCmd := &cobra.Command{
		Use:   "create NAME --image IMAGE | -f FILE",
		Short: "Create a function",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			req, err := create.request(cmd, name)
			if err != nil {
				return err
			}
			if req.Name == nil || req.ImageURL == nil {
				return usagef("a function needs a name and an image (NAME --image IMAGE, or both in -f FILE)")
			}
			c, err := a.client(true)
			if err != nil {
				return err
			}
			f, err := c.CreateFunction(ctxOf(cmd), req)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(f)
			}
			fmt.Fprintf(a.env.Stdout, "created function %s (%s)\n", f.Name, f.ID)
			return nil
		},
	}
	create.add(createCmd)

	var update functionFlags
	updateCmd := &cobra.Command{
		Use:   "update NAME [flags]",
		Short: "Change the fields given",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := update.request(cmd, "")
			if err != nil {
				return err
			}
			c, err := a.client(true)
			if err != nil {
				return err
			}
			old, err := findFunction(ctxOf(cmd), c, args[0])
			if err != nil {
				return err
			}
			f, err := c.UpdateFunction(ctxOf(cmd), old.ID, req)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(f)
			}
			fmt.Fprintf(a.env.Stdout, "updated function %s (%s)\n", f.Name, f.ID)
			return nil
		},
	}
	update.add(updateCmd)

	listCmd := &cobra.Command{
		Use: "list", Short: "List your functions", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			fs, err := c.ListFunctions(ctxOf(cmd))
			if err != nil {
				return err
			}
			return a.printFunctions(fs)
		},
	}
	getCmd := &cobra.Command{
		Use: "get NAME", Short: "Show one function", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			f, err := findFunction(ctxOf(cmd), c, args[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(f)
			}
			return a.printFunctions([]*wire.Function{f})
		},
	}
	deleteCmd := &cobra.Command{
		Use: "delete NAME", Short: "Delete a function with its executions and objects", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			f, err := findFunction(ctxOf(cmd), c, args[0])
			if err != nil {
				return err
			}
			if err := c.DeleteFunction(ctxOf(cmd), f.ID); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "deleted function %s (%s)\n", f.Name, f.ID)
			return nil
		},
	}
	cmd.AddCommand(createCmd, listCmd, getCmd, updateCmd, deleteCmd)
	return cmd
}

// age is how long ago t was, for tables.
func age(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}
