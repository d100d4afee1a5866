package workspace

import "fmt"

// Hinted is an error the workspace or cli raised itself, with the next step it knows from the
// context. cli prints Hints after the message; they win over the advice of the error's type.
type Hinted struct {
	Err   error
	Hints []string
}

func (e *Hinted) Error() string { return e.Err.Error() }
func (e *Hinted) Unwrap() error { return e.Err }

// Hint attaches the next step to an error.
func Hint(err error, hints ...string) error { return &Hinted{Err: err, Hints: hints} }

// ServiceError is a failed call to Flow Service, named by what it was for.
type ServiceError struct {
	Op       string // "read live connections", "import acme-eu"
	Err      error
	ReadOnly bool // the command changes nothing (check): no advice about changes
}

func (e *ServiceError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *ServiceError) Unwrap() error { return e.Err }

// ServiceErr names a failed call to Flow Service by what it was for.
func ServiceErr(op string, err error) error { return &ServiceError{Op: op, Err: err} }

// InterruptedError is a command stopped by a signal; LockPath is where apply saved what
// finished, empty for a command that changes nothing.
type InterruptedError struct{ LockPath string }

func (e *InterruptedError) Error() string {
	if e.LockPath == "" {
		return "interrupted: nothing was changed; run it again"
	}
	return fmt.Sprintf("interrupted: what finished is saved in %s", e.LockPath)
}
