//go:build !unix

package lockfile

// oNoFollow: Windows has no O_NOFOLLOW; the run lock file is still checked to be a regular
// file once it is open.
const oNoFollow = 0
