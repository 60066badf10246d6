package cli

import (
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

// progressMin is the smallest transfer that shows a progress bar (on a
// terminal only).
const progressMin = 1 << 20

// progress wraps r in a progress bar on standard error when that is a
// terminal and the transfer is large; otherwise r as it is.
func (a *app) progress(r io.Reader, size int64, what string) io.Reader {
	f, ok := a.env.Stderr.(*os.File)
	if !ok || a.env.IsTerminal == nil || !a.env.IsTerminal(int(f.Fd())) || (size >= 0 && size < progressMin) {
		return r
	}
	bar := progressbar.DefaultBytes(size, what)
	rd := progressbar.NewReader(r, bar)
	return &rd
}

func (a *app) objectsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "objects", Short: "Store, read, list and delete a function's objects"}
	var contentType string
	put := &cobra.Command{
		Use:   "put FUNCTION NAME [FILE|-]",
		Short: "Upload FILE (or standard input) as the object NAME of FUNCTION",
		Args:  cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, c, f, err := a.function(cmd, args[0])
			if err != nil {
				return err
			}
			var body io.Reader = a.env.Stdin
			size := int64(-1)
			if len(args) == 3 && args[2] != "-" {
				file, err := os.Open(args[2])
				if err != nil {
					return usagef("%v", err)
				}
				defer file.Close()
				if fi, err := file.Stat(); err == nil {
					size = fi.Size()
				}
				body = file
				if contentType == "" {
					contentType = mime.TypeByExtension(filepath.Ext(args[2]))
				}
			}
			o, created, err := c.PutObject(ctx, f.ID, args[1], contentType, a.progress(body, size, "uploading"), size)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(o)
			}
			verb := "replaced"
			if created {
				verb = "stored"
			}
			fmt.Fprintf(a.env.Stdout, "%s %s (%d bytes, sha256 %s)\n", verb, o.Name, o.Size, o.ETag)
			return nil
		},
	}
	put.Flags().StringVar(&contentType, "content-type", "", "the object's Content-Type (default from the file's extension, else application/octet-stream)")
	get := &cobra.Command{
		Use:   "get FUNCTION NAME [FILE|-]",
		Short: "Download the object NAME of FUNCTION to FILE (default: standard output)",
		Args:  cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, c, f, err := a.function(cmd, args[0])
			if err != nil {
				return err
			}
			body, o, err := c.GetObject(ctx, f.ID, args[1])
			if err != nil {
				return err
			}
			defer body.Close()
			out := a.env.Stdout
			if len(args) == 3 && args[2] != "-" {
				file, err := os.Create(args[2])
				if err != nil {
					return usagef("%v", err)
				}
				defer file.Close()
				out = file
			}
			if _, err := io.Copy(out, a.progress(body, o.Size, "downloading")); err != nil {
				return fmt.Errorf("download %s: %w", args[1], err)
			}
			return nil
		},
	}
	var prefix string
	list := &cobra.Command{
		Use: "list FUNCTION", Short: "List a function's objects by name", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, c, f, err := a.function(cmd, args[0])
			if err != nil {
				return err
			}
			os, err := c.ListObjects(ctx, f.ID, prefix)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(map[string]any{"objects": os})
			}
			tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSIZE\tTYPE\tAGE")
			for _, o := range os {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", o.Name, o.Size, o.ContentType, age(o.CreatedAt))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&prefix, "prefix", "", "only names starting with this")
	del := &cobra.Command{
		Use: "delete FUNCTION NAME", Short: "Delete an object", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, c, f, err := a.function(cmd, args[0])
			if err != nil {
				return err
			}
			if err := c.DeleteObject(ctx, f.ID, args[1]); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "deleted %s\n", args[1])
			return nil
		},
	}
	cmd.AddCommand(put, get, list, del)
	return cmd
}
