package cli

import "github.com/flowsync/flowsync/view"

// IO is the process's standard streams and environment, as the commands see them (view.IO).
type IO = view.IO

// Std returns the process's streams, detecting terminals on the real file descriptors.
func Std() IO { return view.Std() }
