package cli

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/flowsync/flowsync/emulator"
)

func newEmulatorCmd(g *globals) *cobra.Command {
	var (
		listen string
		opts   emulator.Options
	)
	cmd := &cobra.Command{
		Use:   "emulator [--listen 127.0.0.1:8080] [--state FILE] [fault flags]",
		Short: "Serve an in-memory Flow Service and Adobe IMS on loopback, to try flowsync without an account",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := emulator.ListenAndServe(ctx, opts, listen, g.io.Err); err != nil {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on (loopback)")
	opts.RegisterFlags(cmd.Flags())
	return cmd
}
