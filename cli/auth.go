package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faasplatform/faas/wire"
)

// readPassword is --password-stdin's first line, or a prompt on the
// terminal without echo.
func (a *app) readPassword(fromStdin bool, in *bufio.Reader, prompt string) (string, error) {
	if fromStdin {
		line, err := in.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the password: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	fd := int(os.Stdin.Fd())
	if a.env.IsTerminal == nil || a.env.ReadPassword == nil || !a.env.IsTerminal(fd) {
		return "", usagef("no terminal to ask the password on: use --password-stdin")
	}
	fmt.Fprint(a.env.Stderr, prompt)
	pw, err := a.env.ReadPassword(fd)
	fmt.Fprintln(a.env.Stderr)
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	return string(pw), nil
}

func (a *app) registerCmd() *cobra.Command {
	var email string
	var pwStdin bool
	cmd := &cobra.Command{
		Use:   "register USERNAME --email EMAIL",
		Short: "Create an account",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := a.readPassword(pwStdin, bufio.NewReader(a.env.Stdin), "Password: ")
			if err != nil {
				return err
			}
			c, err := a.client(false)
			if err != nil {
				return err
			}
			u, err := c.Register(ctxOf(cmd), wire.RegisterRequest{Username: args[0], Password: pw, Email: email})
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(u)
			}
			fmt.Fprintf(a.env.Stdout, "registered %s (%s); now run: faas login %s\n", u.Username, u.ID, u.Username)
			return nil
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "the account's email")
	cmd.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from standard input")
	_ = cmd.MarkFlagRequired("email")
	return cmd
}

func (a *app) loginCmd() *cobra.Command {
	var pwStdin bool
	cmd := &cobra.Command{
		Use:   "login [USERNAME]",
		Short: "Log in and keep the token (mode 0600) in the config directory",
		Long: "Log in and keep the token in $XDG_CONFIG_HOME/faas/session.json (or ~/.config/faas), mode 0600.\n" +
			"The password is asked on the terminal without echo, or read from standard input with --password-stdin.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := bufio.NewReader(a.env.Stdin)
			username := ""
			if len(args) == 1 {
				username = args[0]
			} else {
				if pwStdin {
					return usagef("give the username as an argument with --password-stdin")
				}
				fmt.Fprint(a.env.Stderr, "Username: ")
				line, err := in.ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return fmt.Errorf("read the username: %w", err)
				}
				username = strings.TrimSpace(line)
			}
			pw, err := a.readPassword(pwStdin, in, "Password: ")
			if err != nil {
				return err
			}
			c, err := a.client(false)
			if err != nil {
				return err
			}
			l, err := c.Login(ctxOf(cmd), username, pw)
			if err != nil {
				return err
			}
			path, err := a.saveSession(session{URL: a.baseURL(), Token: l.Token})
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(map[string]any{"user": l.User, "expires_at": l.ExpiresAt, "session": path})
			}
			fmt.Fprintf(a.env.Stdout, "logged in as %s until %s (token in %s)\n", l.User.Username, l.ExpiresAt.Local().Format("2006-01-02 15:04"), path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from standard input")
	return cmd
}

func (a *app) logoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Revoke every token of the account and forget the saved one",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(true)
			if err != nil {
				return err
			}
			if err := c.Logout(ctxOf(cmd)); err != nil {
				return err
			}
			if p, err := a.sessionPath(); err == nil {
				_ = os.Remove(p)
			}
			fmt.Fprintln(a.env.Stdout, "logged out")
			return nil
		},
	}
}
