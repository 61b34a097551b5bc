package region

import (
	"context"

	"github.com/meridiandb/meridian/internal/catalog"
	"github.com/meridiandb/meridian/internal/resource"
)

// CreateDatabase creates a database.
func (r *Region) CreateDatabase(ctx context.Context, id string, tp resource.Throughput) (resource.Database, error) {
	res, err := r.applyCatalog(ctx, catalog.Command{Kind: catalog.CmdCreateDatabase, ID: id, Throughput: tp, TS: r.now()})
	return res.Database.Database, err
}

// ReadDatabase reads a database.
func (r *Region) ReadDatabase(ctx context.Context, id string) (resource.Database, error) {
	d, err := r.cat.Database(id)
	return d.Database, err
}

// ListDatabases lists every database.
func (r *Region) ListDatabases(context.Context) ([]resource.Database, error) {
	dbs := r.cat.Databases()
	out := make([]resource.Database, len(dbs))
	for i, d := range dbs {
		out[i] = d.Database
	}
	return out, nil
}

// DeleteDatabase deletes a database and all its containers' data.
func (r *Region) DeleteDatabase(ctx context.Context, id string) error {
	_, err := r.applyCatalog(ctx, catalog.Command{Kind: catalog.CmdDeleteDatabase, ID: id, TS: r.now()})
	return err
}

// CreateContainer creates a container and opens its partition.
func (r *Region) CreateContainer(ctx context.Context, db string, spec resource.Container, tp resource.Throughput) (resource.Container, error) {
	// The catalog opens the partition (onCatalog) before Apply returns.
	res, err := r.applyCatalog(ctx, catalog.Command{Kind: catalog.CmdCreateContainer, DB: db, Container: &spec, Throughput: tp, TS: r.now()})
	if err != nil {
		return resource.Container{}, err
	}
	return res.Container.Container, nil
}

// ReadContainer reads a container.
func (r *Region) ReadContainer(ctx context.Context, db, id string) (resource.Container, error) {
	co, err := r.cat.Container(db, id)
	return co.Container, err
}

// ListContainers lists a database's containers.
func (r *Region) ListContainers(ctx context.Context, db string) ([]resource.Container, error) {
	cos, err := r.cat.Containers(db)
	if err != nil {
		return nil, err
	}
	out := make([]resource.Container, len(cos))
	for i, co := range cos {
		out[i] = co.Container
	}
	return out, nil
}

// ReplaceContainer replaces a container's mutable settings.
func (r *Region) ReplaceContainer(ctx context.Context, db string, spec resource.Container, ifMatch string) (resource.Container, error) {
	res, err := r.applyCatalog(ctx, catalog.Command{Kind: catalog.CmdReplaceContainer, DB: db, Container: &spec, IfMatch: ifMatch, TS: r.now()})
	if err != nil {
		return resource.Container{}, err
	}
	return res.Container.Container, nil
}

// DeleteContainer deletes a container and its data.
func (r *Region) DeleteContainer(ctx context.Context, db, id string) error {
	_, err := r.applyCatalog(ctx, catalog.Command{Kind: catalog.CmdDeleteContainer, DB: db, ID: id, TS: r.now()})
	return err
}

// ListOffers lists every offer.
func (r *Region) ListOffers(context.Context) ([]resource.Offer, error) { return r.cat.Offers(), nil }

// ReadOffer reads an offer.
func (r *Region) ReadOffer(ctx context.Context, id string) (resource.Offer, error) {
	return r.cat.Offer(id)
}

// ReplaceOffer changes provisioned throughput.
func (r *Region) ReplaceOffer(ctx context.Context, id string, offer resource.Offer) (resource.Offer, error) {
	res, err := r.applyCatalog(ctx, catalog.Command{Kind: catalog.CmdReplaceOffer, ID: id, Offer: &offer, TS: r.now()})
	return res.Offer, err
}
