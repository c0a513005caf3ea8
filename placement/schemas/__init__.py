"""JSON schemas of request bodies and query strings, one module per
resource (as handlers/)."""


def validated():
    """(bodies, queries): every schema a handler validates request bodies
    with, and every one it validates query strings with (a version
    window's schemas each), so a worker can build their validators before
    its first request (unit-tested against the handlers' calls)."""
    from placement.schemas import aggregate
    from placement.schemas import allocation
    from placement.schemas import allocation_candidate
    from placement.schemas import inventory
    from placement.schemas import reshaper
    from placement.schemas import resource_class
    from placement.schemas import resource_provider
    from placement.schemas import trait
    from placement.schemas import usage
    bodies = [aggregate.PUT_AGGREGATES, allocation.PUT_ALLOCATIONS,
              allocation.POST_ALLOCATIONS, inventory.POST_INVENTORY,
              inventory.PUT_INVENTORIES, inventory.PUT_INVENTORY_RECORD,
              reshaper.POST_RESHAPER, resource_class.POST,
              resource_class.PUT_RENAME, resource_provider.POST,
              resource_provider.PUT, trait.SET_PROVIDER_TRAITS]
    queries = [allocation_candidate.GET_SCHEMAS, resource_provider.LIST,
               trait.LIST_TRAITS_QUERY, usage.GET_USAGES_QUERY]
    return _each_window(bodies), _each_window(queries)


def _each_window(schemas):
    out = []
    for schema in schemas:
        windows = getattr(schema, 'windows', None)
        out.extend([value for _lo, _hi, value in windows]
                   if windows is not None else [schema])
    return out
