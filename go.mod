module github.com/lvsdirector/director

go 1.26.8

require (
	github.com/hkwi/nlgo v0.0.0-20190926025335-08733afbfe04
	github.com/mdlayher/genetlink v1.4.0
	github.com/mdlayher/netlink v1.11.2
	github.com/mqliang/libipvs v0.0.0-20230109035226-02d9e44c145f
	golang.org/x/sys v0.49.0
)

require (
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/mdlayher/socket v0.6.0 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	golang.org/x/net v0.53.0 // indirect
	golang.org/x/sync v0.20.0 // indirect
)
