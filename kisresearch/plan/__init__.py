"""Before any request: endpoints as data (path, TR ids, params, row caps, paging) and input
validation that names the bad value."""
