package cli

import (
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
		Long: `emulator serves an in-memory Flow Service and Adobe IMS on loopback, to try flowsync
without an account and to rehearse faults. Its endpoint is http://ADDR/data/foundation/flowservice;
it accepts any bearer token and API key, and needs the headers Flow Service needs
(Authorization, x-api-key, x-gw-ims-org-id, x-sandbox-name).`,
		Example: `  flowsync emulator --listen 127.0.0.1:8080 --state emulator.json
  FLOWSYNC_ACCESS_TOKEN=any FLOWSYNC_API_KEY=any \
    flowsync plan -f connections.yaml --refresh --endpoint http://127.0.0.1:8080/data/foundation/flowservice
  flowsync emulator --latency 50ms --fail-rate 0.1 --throttle-rate 0.05 --seed 1`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// cmd.Context() is cancelled by SIGINT and SIGTERM (Main): the emulator shuts down.
			if err := emulator.ListenAndServe(cmd.Context(), opts, listen, g.io.Err); err != nil {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on (loopback)")
	opts.RegisterFlags(cmd.Flags())
	setFooter(cmd, helpFooter{exit: []string{exitLineOK + ": stopped by SIGINT or SIGTERM", exitLineError}})
	return cmd
}
