// expect: no module definition found
