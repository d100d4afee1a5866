package s3source

import "testing"

func TestRegionOfInvertsRegionEndpoint(t *testing.T) {
	for _, r := range []string{"eu-west-1", "us-gov-west-1", "cn-north-1", "ap-southeast-2"} {
		if got, ok := RegionOf(RegionEndpoint(r)); !ok || got != r {
			t.Errorf("RegionOf(%q) = %q, %v; want %q", RegionEndpoint(r), got, ok, r)
		}
	}
	for _, u := range []string{"https://minio.internal/", "http://s3.eu-west-1.amazonaws.com/", "https://s3.amazonaws.com/", "https://s3.a.b.amazonaws.com/"} {
		if r, ok := RegionOf(u); ok {
			t.Errorf("RegionOf(%q) = %q, want not a region endpoint", u, r)
		}
	}
}
